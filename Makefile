# The two commands of the README: `make demo` and `make test`. Everything is
# installed into .venv from requirements-dev.lock (pinned: the runtime lock plus the
# embedded PostgreSQL, the test tools and the build backend), nothing system-wide.
VENV   ?= .venv
PYTHON ?= python3
STAMP  := $(VENV)/.installed

.PHONY: demo serve test install clean bench wheel

$(STAMP): pyproject.toml requirements.lock requirements-dev.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.lock
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

install: $(STAMP)

# Embedded PostgreSQL (unless DATABASE_URL is set), demo data, then the API.
demo: $(STAMP)
	$(VENV)/bin/steward demo
	exec $(VENV)/bin/steward serve

serve: $(STAMP)
	exec $(VENV)/bin/steward serve

# The whole suite, against DATABASE_URL if set, else the embedded PostgreSQL.
test: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The benchmark at scale (bench/run.sh; see bench/RESULTS.md). Needs a PostgreSQL server
# reachable as a superuser at BENCH_URL (default: the local server as root).
bench: $(STAMP)
	bench/run.sh

# The installable wheel, in dist/ (the SQL and the GraphiQL assets are package data).
wheel: $(STAMP)
	rm -rf build  # setuptools reuses build/lib: a file dropped from the package data would linger
	$(VENV)/bin/pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w dist .

clean:
	rm -rf $(VENV) .steward dist build
