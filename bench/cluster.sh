#!/usr/bin/env bash
# Cluster benchmark (issue 17): SMTP injection and API SendEmail rates, and CPU milliseconds per
# message for the whole machine, for 1 node on SQLite, 1 node on PostgreSQL, and 2 nodes on
# PostgreSQL with Redis, in one run; with PostgreSQL round trips per message. PostgreSQL and
# Redis are started in a temporary directory (as the tests do). Details: bench/cluster.py.
#
# Env: MSGS (20000) SESSIONS (20) SIZE (5000) DURATION (10) CONNECTIONS (20) SESAME_BIN.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
[[ -x ${SESAME_BIN:-$ROOT/build/sesame} ]] || { echo "build first: make build" >&2; exit 1; }
exec /usr/bin/python3 "$ROOT/bench/cluster.py"
