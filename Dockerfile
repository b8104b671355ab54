# Steward API image: `steward serve` against an external PostgreSQL (no embedded one here).
#
#   docker build -t steward .
#   docker run --rm -e DATABASE_URL=postgresql://steward:secret@db.internal:5432/steward steward migrate
#   docker run -d --name steward -p 8000:8000 -e DATABASE_URL=postgresql://steward:secret@db.internal:5432/steward steward
#
# Migrations are their own step (`steward migrate`, run once per release); `serve`
# refuses a database whose migrations are behind the code.
#
# Two stages: the builder turns the sources into a wheel (the SQL and the GraphiQL
# assets are its package data); the image installs the runtime lock and that wheel,
# nothing else: no sources, no build backend, no test tools, no embedded PostgreSQL.

FROM python:3.11-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# The build backend at the version the development lock pins.
COPY requirements-dev.lock ./
RUN pip install "$(grep '^setuptools==' requirements-dev.lock)"
COPY pyproject.toml README.md ./
COPY sql ./sql
COPY schema ./schema
COPY service ./service
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /dist .


FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed numeric id, so orchestrators can verify runAsNonRoot without a passwd lookup.
RUN groupadd --system --gid 10001 steward \
 && useradd --system --uid 10001 --gid steward --home-dir /app --no-create-home --shell /usr/sbin/nologin steward

WORKDIR /app

# Runtime dependencies from the lock alone, in a layer of their own: rebuilt only when the lock changes.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

# The application: the wheel only, its dependencies already there (pip check proves the lock fits it).
COPY --from=builder /dist /tmp/dist
RUN pip install --no-cache-dir --no-deps /tmp/dist/steward-*.whl \
 && rm -rf /tmp/dist \
 && pip check \
 && python -c "import service.app, schema; from service.db.migrate import migrations; assert migrations()"

# No embedded PostgreSQL in a container: its data would vanish with the container.
ENV STEWARD_REQUIRE_DATABASE_URL=1 \
    STEWARD_HOST=0.0.0.0 \
    STEWARD_PORT=8000

USER 10001:10001
EXPOSE 8000

# The slim image has no curl: ask /healthz with the Python that is already there.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('STEWARD_PORT', '8000') + '/healthz', timeout=4)"]

ENTRYPOINT ["steward"]
CMD ["serve"]
