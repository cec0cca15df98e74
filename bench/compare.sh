#!/usr/bin/env bash
# Side by side in one run: bench/ingest.sh, bench/relay.sh and bench/api.sh against two builds,
# alternating (A B A B ...) so that machine drift hits both alike; prints each run and the medians
# with B's change against A.
#
#   bench/compare.sh BASE_BINARY [NEW_BINARY]      (NEW defaults to build/sesame)
#   e.g. git worktree add /tmp/base main && (cd /tmp/base && make build) &&
#        bench/compare.sh /tmp/base/build/sesame
#
# Env: ROUNDS (3), MSGS (20000), DURATION (10, the API's wrk seconds), BENCHES ("ingest relay api").
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
A=${1:?usage: bench/compare.sh BASE_BINARY [NEW_BINARY]}
B=${2:-$ROOT/build/sesame}
ROUNDS=${ROUNDS:-3}
export MSGS=${MSGS:-20000}
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
field() { sed -n "s/.*$1=\\([0-9.]*\\).*/\\1/p"; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{ if (NR%2) print v[(NR+1)/2]; else printf "%.1f\n", (v[NR/2]+v[NR/2+1])/2 }'; }

declare -A results
run() { # bench field binary -> value
  local out
  case $1 in
    ingest) out=$(SESAME_BIN=$3 PEERS=0 RUNS=1 "$ROOT/bench/ingest.sh" 2>/dev/null | tail -1) ;;
    relay) out=$(SESAME_BIN=$3 PEERS=0 RUNS=1 "$ROOT/bench/relay.sh" 2>/dev/null | grep '^sesame ' | tail -1) ;;
    api) out=$(SESAME_BIN=$3 SMTP=0 "$ROOT/bench/api.sh" 2>/dev/null | grep '^sesame-api' | tail -1) ;;
  esac
  field "$2" <<<"$out"
}
for bench in ${BENCHES:-ingest relay api}; do
  case $bench in ingest) f=inject_msgs_per_s ;; relay) f=e2e_msgs_per_s ;; api) f=sendemail_per_s ;; esac
  for ((r = 1; r <= ROUNDS; r++)); do
    for side in A B; do
      bin=$A; [[ $side == B ]] && bin=$B
      v=$(run "$bench" "$f" "$bin")
      [[ -n $v ]] || { log "$bench on $side ($bin) failed"; exit 1; }
      results[$bench.$side]+="$v "
      log "$bench round $r $side: $v"
    done
  done
done
printf '%-8s %-18s %12s %12s %8s\n' bench metric base new change
for bench in ${BENCHES:-ingest relay api}; do
  case $bench in ingest) f=inject_msgs_per_s ;; relay) f=e2e_msgs_per_s ;; api) f=sendemail_per_s ;; esac
  # shellcheck disable=SC2086
  a=$(median ${results[$bench.A]}); b=$(median ${results[$bench.B]})
  printf '%-8s %-18s %12s %12s %7s%%   (base: %s; new: %s)\n' "$bench" "$f" "$a" "$b" \
    "$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%+.1f", (b-a)/a*100}')" "${results[$bench.A]% }" "${results[$bench.B]% }"
done
