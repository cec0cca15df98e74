#!/usr/bin/env bash
# Events benchmark: mail throughput with SES events off, then on (one Delivery event per
# message published to a topic with 3 http webhook subscriptions), and how fast the events
# reach the webhooks. smtp-source (SESSIONS sessions, MSGS messages of SIZE bytes, each
# naming the configuration set in an X-SES-CONFIGURATION-SET header) -> Sesame -> smtp-sink;
# the webhooks are bench/tools/webhook_sink.cc processes (build/webhook_sink).
#
# Env: MSGS SESSIONS SIZE RUNS, SESAME_PORT (3587), SESAME_HTTP_PORT (3580), SINK_PORT (2526),
#      HOOK_PORT (3590: three ports from here), RAW=1 for raw message delivery (the SES event
#      as the body: no SNS envelope, no signature), SIGNING=ecdsa for a P-256 signing key.
#      PIPELINE=N to pipeline N requests per connection (default 1, as SNS),
#      CONCURRENCY=N connections per subscription (16), NICE=N for events.nice (10).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/peers}
export MSGS=${MSGS:-20000} SESSIONS=${SESSIONS:-20} SIZE=${SIZE:-5000} RUNS=${RUNS:-2}
PORT=${SESAME_PORT:-3587}
HTTP_PORT=${SESAME_HTTP_PORT:-3580}
HOOK_PORT=${HOOK_PORT:-3590}
RAW=$([[ ${RAW:-0} == 1 ]] && echo true || echo false)
SIGNING=${SIGNING:-rsa}
NICE=${NICE:-10}               # events.nice: the publisher threads' priority
PIPELINE=${PIPELINE:-1}       # requests pipelined per webhook connection
CONCURRENCY=${CONCURRENCY:-16} # connections per webhook
export SINK_PORT=${SINK_PORT:-2526}
export WORKDIR=${WORKDIR:-/tmp/sesame-events-bench}
BIN=${SESAME_BIN:-$ROOT/build/sesame}  # SESAME_BIN: another build (bench/compare.sh)
# shellcheck source=/dev/null
source "$PEERS_DIR/common.sh"   # sink_start, sink_count, sink_wait_count, median, fdiv, now
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"     # sesame_relay_config
PID= HOOKS=()
cleanup() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  for h in "${HOOKS[@]}"; do kill "$h" 2>/dev/null; done
  sink_stop
}
trap cleanup EXIT INT TERM
[[ -x $BIN ]] || die "build first: make build"

# The message: the configuration-set header, then SIZE bytes of body (LF line ends:
# smtp-source -F sends them as CRLF).
{
  printf 'From: <%s>\nTo: <%s>\nSubject: events bench\nX-SES-CONFIGURATION-SET: bench\n\n' \
    "$FROM_ADDR" "$TO_ADDR"
  head -c "$SIZE" /dev/zero | tr '\0' 'x' | fold -w 76
} >"$WORKDIR/message.eml"

write_config() {  # $1 = on|off
  sesame_relay_config "$WORKDIR/data" "$PORT" "$HTTP_PORT" "$SINK_PORT" >"$WORKDIR/sesame.yaml"
  if [[ $1 == on ]]; then
    cat >>"$WORKDIR/sesame.yaml" <<YAML
configuration_sets:
  - name: bench
    event_destinations:
      - {name: hooks, topic: bench, matching_event_types: [DELIVERY]}
events:
  signing: $SIGNING
  nice: $NICE
  topics:
    - name: bench
      subscriptions:
        - {protocol: http, endpoint: "http://127.0.0.1:$HOOK_PORT/a", confirm: false, raw: $RAW, max_concurrency: $CONCURRENCY, pipeline: $PIPELINE}
        - {protocol: http, endpoint: "http://127.0.0.1:$((HOOK_PORT + 1))/b", confirm: false, raw: $RAW, max_concurrency: $CONCURRENCY, pipeline: $PIPELINE}
        - {protocol: http, endpoint: "http://127.0.0.1:$((HOOK_PORT + 2))/c", confirm: false, raw: $RAW, max_concurrency: $CONCURRENCY, pipeline: $PIPELINE}
YAML
  else
    cat >>"$WORKDIR/sesame.yaml" <<YAML
configuration_sets:
  - name: bench
YAML
  fi
}

hook_total() { local t=0 f; for f in "$WORKDIR"/hook.*.count; do t=$((t + $(cat "$f" 2>/dev/null || echo 0))); done; echo "$t"; }

run_mode() {  # $1 = on|off -> sets E2E and EV (events delivered per second)
  write_config "$1"
  rm -rf "$WORKDIR/data" "$WORKDIR"/hook.*.count
  if [[ $1 == on ]]; then
    for i in 0 1 2; do
      "$ROOT/build/webhook_sink" $((HOOK_PORT + i)) "$WORKDIR/hook.$i.count" &
      HOOKS+=($!)
    done
    for i in 0 1 2; do wait_listen $((HOOK_PORT + i)) 10 || die "webhook sink did not start"; done
  fi
  "$BIN" serve --config "$WORKDIR/sesame.yaml" >"$WORKDIR/server.log" 2>&1 &
  PID=$!
  wait_listen "$PORT" 10 || die "sesame did not start: $(tail -5 "$WORKDIR/server.log")"
  local base target t0 t1 t2 t3
  base=$(sink_count); target=$((base + MSGS))
  t0=$(now)
  timeout "$RUN_TIMEOUT" smtp-source -c -s "$SESSIONS" -m "$MSGS" -F "$WORKDIR/message.eml" \
    -f "$FROM_ADDR" -t "$TO_ADDR" "$BENCH_HOST:$PORT" >"$WORKDIR/source.out" 2>&1 || die "smtp-source failed"
  t1=$(now)
  sink_wait_count "$target" "$RUN_TIMEOUT" || die "sink got only $(( $(sink_count) - base ))/$MSGS"
  t2=$(now)
  local ev_rate=0
  if [[ $1 == on ]]; then
    local deadline=$(( $(date +%s) + RUN_TIMEOUT ))
    while (( $(hook_total) < 3 * MSGS && $(date +%s) < deadline )); do sleep 0.2; done
    t3=$(now)
    (( $(hook_total) >= 3 * MSGS )) || die "webhooks got only $(hook_total)/$((3 * MSGS))"
    ev_rate=$(fdiv "$((3 * MSGS))" "$(fsub "$t3" "$t0")")
  fi
  # Sesame's own CPU (user + system) per message.
  CPU_MS=$(awk -v hz="$(getconf CLK_TCK)" -v n="$MSGS" '{ printf "%.3f", ($14+$15)*1000/hz/n }' "/proc/$PID/stat")
  kill "$PID"; wait "$PID" 2>/dev/null; PID=
  for h in "${HOOKS[@]}"; do kill "$h" 2>/dev/null; wait "$h" 2>/dev/null; done; HOOKS=()
  E2E=$(fdiv "$MSGS" "$(fsub "$t2" "$t0")") EV=$ev_rate
}

sink_start
off=() on=() ev=()
for ((r = 1; r <= RUNS; r++)); do
  run_mode off; off+=("$E2E"); cpu_off=$CPU_MS
  run_mode on; on+=("$E2E"); ev+=("$EV"); cpu_on=$CPU_MS
  log "run $r: events off ${off[-1]} msg/s (sesame ${cpu_off} CPU-ms/msg), on ${on[-1]} msg/s" \
      "(${cpu_on} CPU-ms/msg), ${ev[-1]} events/s delivered"
done
o=$(median "${off[@]}"); n=$(median "${on[@]}"); e=$(median "${ev[@]}")
echo "sesame events_off_msgs_per_s=$o events_on_msgs_per_s=$n events_delivered_per_s=$e subscriptions=3 raw=$RAW signing=$SIGNING pipeline=$PIPELINE concurrency=$CONCURRENCY msgs=$MSGS"
awk -v o="$o" -v n="$n" 'BEGIN{ printf "summary events cost=%.1f%% of mail throughput (target < 15%%)\n", (o-n)*100/o }'
