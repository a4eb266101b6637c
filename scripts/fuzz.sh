#!/usr/bin/env bash
# `make fuzz`: schemathesis over the whole OpenAPI schema (examples, coverage, fuzzing and
# stateful phases, links between operations included) against a live daphne on a
# throwaway PostgreSQL database, on 127.0.0.1 only. The suite keeps its small bounded run
# (tests/api/test_schemathesis.py); this is the large one.
#
#   FUZZ_MAX_EXAMPLES (default 600 per operation and phase), FUZZ_MAX_TIME (seconds, default
#   1800), FUZZ_SEED (default 42), FUZZ_PORT (default 8097), FUZZ_DATABASE_URL,
#   FUZZ_REDIS_URL. The JUnit report and the server's log go to test-artifacts/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
DB=${FUZZ_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/xquant_fuzz}
PORT=${FUZZ_PORT:-8097}
OUT=test-artifacts/fuzz
mkdir -p "$OUT"

TOKEN=$("$BIN/python" -c "import secrets; print(secrets.token_urlsafe(32))")
export DATABASE_URL="$DB" REDIS_URL="${FUZZ_REDIS_URL:-redis://127.0.0.1:6379/5}" \
  CHANNELS_PREFIX="xquant-fuzz-$PORT" CACHE_PREFIX="xquant-fuzz-$PORT" XQUANT_ENV_FILE=/nonexistent XQUANT_ENV=development \
  DEBUG=false LOG_LEVEL=WARNING EXCHANGE=paper USE_MOCK=false \
  API_TOKEN="$TOKEN" API_TOKEN_ROLE=admin \
  API_THROTTLE_USER=100000000/minute API_THROTTLE_MONEY=100000000/minute \
  API_TOKEN_FAILURES=100000000/minute DJANGO_SETTINGS_MODULE=xquant.settings

"$BIN/python" scripts/recreate_database.py "$DB"
"$BIN/python" manage.py migrate -v0
# Rows with ids 1-3 (as the suite's run has), so /{id} paths find real objects too.
"$BIN/python" -c "import django; django.setup(); from tests.api.fuzz_data import seed_objects; seed_objects()"

"$BIN/python" -m daphne -b 127.0.0.1 -p "$PORT" xquant.asgi:application >"$OUT/server.log" 2>&1 &
SERVER=$!
# The trading loop too, as in production: the desk under fuzzing is a live one, and the
# health check (which reports a stale trader as 503) is green.
"$BIN/python" manage.py runtrader --interval 2 >"$OUT/trader.log" 2>&1 &
TRADER=$!
trap 'kill $SERVER $TRADER 2>/dev/null; wait $SERVER $TRADER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sS -o /dev/null "http://127.0.0.1:$PORT/api/health" 2>/dev/null && break
  sleep 0.3
done

"$BIN/schemathesis" run "http://127.0.0.1:$PORT/api/schema/" \
  --header "Authorization: Bearer $TOKEN" \
  --phases examples,coverage,fuzzing,stateful \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection \
  --max-examples "${FUZZ_MAX_EXAMPLES:-600}" \
  --max-time "${FUZZ_MAX_TIME:-1800}" \
  --seed "${FUZZ_SEED:-42}" \
  --request-timeout 60 \
  --workers 2 \
  --output-sanitize true \
  --report junit --report-junit-path "$OUT/junit.xml" \
  | tee "$OUT/summary.txt"
