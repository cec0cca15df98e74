#!/usr/bin/env bash
# Relay benchmark: smtp-source (20 sessions, 20,000 messages of 5 KB) -> Sesame -> smtp-sink,
# end to end: from injection start until smtp-sink has counted every message. Sesame accepts
# durably (fdatasync before 250) and relays through a static route to the sink, like Postfix's
# relayhost in ../shared/peers/bench-postfix.sh, which runs side by side in the same run.
#
# Env: MSGS SESSIONS SIZE RUNS (as the peer scripts), PEERS=0 to skip Postfix,
#      SESAME_PORT (3587), SESAME_HTTP_PORT (3580), SINK_PORT (2526).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/peers}
export MSGS=${MSGS:-20000} SESSIONS=${SESSIONS:-20} SIZE=${SIZE:-5000} RUNS=${RUNS:-2}
PORT=${SESAME_PORT:-3587}
HTTP_PORT=${SESAME_HTTP_PORT:-3580}
export SINK_PORT=${SINK_PORT:-2526}
export WORKDIR=${WORKDIR:-/tmp/sesame-relay-bench}
BIN=${SESAME_BIN:-$ROOT/build/sesame}  # SESAME_BIN: another build (bench/compare.sh)
# shellcheck source=/dev/null
source "$PEERS_DIR/common.sh"   # sink_start, sink_count, sink_wait_count, median, fdiv, now
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"     # sesame_relay_config
PID=
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; sink_stop; }
trap cleanup EXIT INT TERM
[[ -x $BIN ]] || die "build first: make build"

sesame_relay_config "$WORKDIR/data" "$PORT" "$HTTP_PORT" "$SINK_PORT" >"$WORKDIR/sesame.yaml"

sink_start
rates=() inj=()
for ((r = 1; r <= RUNS; r++)); do
  rm -rf "$WORKDIR/data"
  "$BIN" serve --config "$WORKDIR/sesame.yaml" >"$WORKDIR/server.log" 2>&1 &
  PID=$!
  wait_listen "$PORT" 10 || die "sesame did not start: $(tail -5 "$WORKDIR/server.log")"
  base=$(sink_count); target=$((base + MSGS))
  t0=$(now)
  run_source "$PORT"; rc=$?
  t1=$(now)
  (( rc == 0 )) || die "smtp-source failed rc=$rc: $(source_tail "$PORT")"
  sink_wait_count "$target" "$RUN_TIMEOUT" || die "sink got only $(( $(sink_count) - base ))/$MSGS"
  t2=$(now)
  kill "$PID"; wait "$PID" 2>/dev/null; PID=
  inj+=("$(fdiv "$MSGS" "$(fsub "$t1" "$t0")")")
  rates+=("$(fdiv "$MSGS" "$(fsub "$t2" "$t0")")")
  log "sesame run $r: inject ${inj[-1]}/s, end to end ${rates[-1]}/s"
done
sink_stop
sesame_e2e=$(median "${rates[@]}")
echo "sesame inject_msgs_per_s=$(median "${inj[@]}") e2e_msgs_per_s=$sesame_e2e msgs=$MSGS sessions=$SESSIONS size=$SIZE runs_e2e=$(IFS=,; echo "${rates[*]}")"

if [[ ${PEERS:-1} == 1 ]]; then
  [[ $(id -u) == 0 ]] || { log "the Postfix benchmark needs root; skipping"; exit 0; }
  pf=$("$PEERS_DIR/bench-postfix.sh" | tail -1); echo "$pf"
  pf_e2e=$(sed -n 's/.*e2e_msgs_per_s=\([0-9.]*\).*/\1/p' <<<"$pf")
  awk -v s="$sesame_e2e" -v p="$pf_e2e" 'BEGIN{ printf "summary sesame/postfix end-to-end=%.2fx (target >= 3)\n", s/p }'
fi
