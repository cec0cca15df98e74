#!/usr/bin/env bash
# Backlog benchmark: N messages of SIZE bytes injected with smtp-source toward a route whose
# only host refuses connections (nothing listens on SINK_PORT yet), then:
#   - the injection rate;
#   - RSS idle, right after injection and WAIT seconds later, and RSS bytes per queued message;
#   - CPU% and disk growth per minute while the site is down (over WINDOW seconds);
#   - SIGTERM-to-exit time; restart-to-/ready after it; kill -9 then restart-to-/ready;
#   - then the host comes up (smtp-sink) and the drain rate, from its first delivery to its last.
# Targets (issue 14): <= 250 B of RSS per queued message at 1,000,000 and no growth while
# suspended; < 5% of one core and < 1 MB/min of disk while down; SIGTERM exit <= 5 s; restart
# <= 5 s; drain within 10% of bench/relay.sh's end-to-end rate.
#
# Env: N (1000000) SIZE (1000) SESSIONS (20) WAIT (300) WINDOW (60) SESAME_PORT (3587)
#      SESAME_HTTP_PORT (3580) SINK_PORT (2526) SESAME_BIN.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/peers}
N=${N:-1000000}
export MSGS=$N SIZE=${SIZE:-1000} SESSIONS=${SESSIONS:-20} RUN_TIMEOUT=${RUN_TIMEOUT:-3600}
WAIT=${WAIT:-300} WINDOW=${WINDOW:-60}
PORT=${SESAME_PORT:-3587}
HTTP_PORT=${SESAME_HTTP_PORT:-3580}
export SINK_PORT=${SINK_PORT:-2526}
export WORKDIR=${WORKDIR:-/tmp/sesame-backlog-bench}
BIN=${SESAME_BIN:-$ROOT/build/sesame}
# shellcheck source=/dev/null
source "$PEERS_DIR/common.sh"   # sink_start, sink_count, run_source, now, fdiv, fsub
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"     # sesame_base_config
PID=
cleanup() { [[ -n $PID ]] && kill -9 "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; sink_stop; }
trap cleanup EXIT INT TERM
[[ -x $BIN ]] || die "build first: make build"
port_listening "$SINK_PORT" && die "port $SINK_PORT is in use: it must refuse connections"

{
  sesame_base_config "$WORKDIR/data" "$PORT" "$HTTP_PORT"
  cat <<YAML
delivery:
  mode: smtp
  shaping: {default: {max_connections: 20, messages_per_connection: 1000}}
  retry: {first_seconds: 5, factor: 2, max_seconds: 30}
routes:
  - {match: "*", hosts: ["127.0.0.1:$SINK_PORT"]}
YAML
} >"$WORKDIR/sesame.yaml"

rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$PID/status"; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); split($0, f, " "); printf "%.2f", (f[12]+f[13])/hz }' "/proc/$PID/stat"; }
disk_kb() { du -sk "$WORKDIR/data" | cut -f1; }
metric() { curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1==m {print $2}'; }
start() {
  "$BIN" serve --config "$WORKDIR/sesame.yaml" >>"$WORKDIR/server.log" 2>&1 &
  PID=$!
}
wait_ready() { # timeout_s -> seconds taken, or fails
  local t0 deadline; t0=$(now); deadline=$(( $(date +%s) + $1 ))
  until [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/ready") == 200 ]]; do
    (( $(date +%s) >= deadline )) && return 1
    sleep 0.05
  done
  fsub "$(now)" "$t0"
}
wait_queued() { # count timeout_s
  local deadline=$(( $(date +%s) + $2 ))
  until (( $(metric sesame_delivery_messages | cut -d. -f1) + 0 >= $1 )); do
    (( $(date +%s) >= deadline )) && return 1
    sleep 0.5
  done
}

rm -rf "$WORKDIR/data"; : >"$WORKDIR/server.log"
start
wait_ready 30 >/dev/null || die "sesame did not start: $(tail -5 "$WORKDIR/server.log")"
rss_idle=$(rss_kb)
log "injecting $N messages of $SIZE bytes toward a refusing route"
t0=$(now); run_source "$PORT"; rc=$?; t1=$(now)
(( rc == 0 )) || die "smtp-source failed rc=$rc: $(source_tail "$PORT")"
inject=$(fdiv "$N" "$(fsub "$t1" "$t0")")
wait_queued "$N" 300 || die "the engine holds only $(metric sesame_delivery_messages) messages"
rss_after=$(rss_kb)
log "injected at $inject/s; RSS $((rss_after / 1024)) MB; measuring ${WINDOW}s while the site is down"
c0=$(cpu_s); d0=$(disk_kb); w0=$(now)
sleep "$WINDOW"
c1=$(cpu_s); d1=$(disk_kb); w1=$(now)
span=$(fsub "$w1" "$w0")
cpu_pct=$(awk -v a="$c0" -v b="$c1" -v s="$span" 'BEGIN{ printf "%.1f", (b-a)*100/s }')
disk_min=$(awk -v a="$d0" -v b="$d1" -v s="$span" 'BEGIN{ printf "%.0f", (b-a)*60/s }')
(( WAIT > WINDOW )) && sleep $((WAIT - WINDOW))
rss_later=$(rss_kb)
per_msg=$(awk -v a="$rss_idle" -v b="$rss_after" -v n="$N" 'BEGIN{ printf "%.0f", (b-a)*1024/n }')
log "RSS ${WAIT}s later $((rss_later / 1024)) MB; SIGTERM"
t0=$(now); kill -TERM "$PID"; wait "$PID" 2>/dev/null; t1=$(now); PID=
sigterm=$(fsub "$t1" "$t0")
start; restart=$(wait_ready 120) || die "no /ready after a clean restart"
kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=
start; crash_restart=$(wait_ready 120) || die "no /ready after kill -9"
wait_queued "$N" 300 || die "after kill -9 the engine holds only $(metric sesame_delivery_messages)"
log "SIGTERM exit ${sigterm}s, restart ${restart}s, kill -9 restart ${crash_restart}s; bringing the host up"
sink_start
first= deadline=$(( $(date +%s) + RUN_TIMEOUT ))
while (( $(sink_count) < N )); do
  [[ -z $first ]] && (( $(sink_count) > 0 )) && first=$(now)
  (( $(date +%s) >= deadline )) && die "the sink got only $(sink_count)/$N"
  sleep 0.05
done
drain=$(fdiv "$N" "$(fsub "$(now)" "${first:-$t1}")")
echo "backlog msgs=$N size=$SIZE inject_msgs_per_s=$inject rss_idle_mb=$((rss_idle / 1024))" \
  "rss_after_mb=$((rss_after / 1024)) rss_later_mb=$((rss_later / 1024)) rss_bytes_per_msg=$per_msg" \
  "down_cpu_pct=$cpu_pct down_disk_kb_per_min=$disk_min sigterm_exit_s=$sigterm" \
  "restart_ready_s=$restart kill9_restart_ready_s=$crash_restart drain_msgs_per_s=$drain"
