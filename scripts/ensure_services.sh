#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on 127.0.0.1 for the test suite: start them when
# they are installed but stopped, and fail with a clear message when they are absent.
set -euo pipefail

listening() {  # host port
  python3 - "$1" "$2" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
except OSError:
    sys.exit(1)
PY
}

wait_for() {  # name host port
  for _ in $(seq 1 30); do
    listening "$2" "$3" && return 0
    sleep 1
  done
  echo "error: $1 did not start listening on $2:$3 within 30 s" >&2
  exit 1
}

if ! listening 127.0.0.1 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "PostgreSQL is stopped; starting it."
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    wait_for PostgreSQL 127.0.0.1 5432
  else
    echo "error: PostgreSQL is not running on 127.0.0.1:5432 and is not installed here." >&2
    echo "       Install it (apt-get install postgresql) or set TEST_DATABASE_URL." >&2
    exit 1
  fi
fi

if ! listening 127.0.0.1 6379; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "Redis is stopped; starting it."
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    wait_for Redis 127.0.0.1 6379
  else
    echo "error: Redis is not running on 127.0.0.1:6379 and is not installed here." >&2
    echo "       Install it (apt-get install redis-server) or set TEST_REDIS_URL." >&2
    exit 1
  fi
fi
echo "PostgreSQL and Redis are up on 127.0.0.1."
