#!/usr/bin/env bash
# Ingest benchmark: Postfix's smtp-source (20 sessions, 20,000 messages of 5 KB, a new
# connection per message) into Sesame with the durable spool (fdatasync before every 250),
# side by side with Postfix (../shared/peers/bench-postfix.sh) and the raw
# smtp-source -> smtp-sink loopback rate (the ceiling), all on this machine.
#
# Env: MSGS SESSIONS SIZE RUNS (as the peer scripts), PEERS=0 to skip Postfix and raw,
#      SESAME_PORT (3587), SESAME_HTTP_PORT (3580).
# Prints one line per system, then a summary line.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/peers}
export MSGS=${MSGS:-20000} SESSIONS=${SESSIONS:-20} SIZE=${SIZE:-5000} RUNS=${RUNS:-2}
PORT=${SESAME_PORT:-3587}
HTTP_PORT=${SESAME_HTTP_PORT:-3580}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
BIN=${SESAME_BIN:-$ROOT/build/sesame}  # SESAME_BIN: another build (bench/compare.sh)
WORK=$(mktemp -d /tmp/sesame-bench.XXXXXX)
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"     # sesame_base_config
PID=

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
command -v smtp-source >/dev/null || { log "smtp-source missing: run scripts/install-deps"; exit 1; }
[[ -x $BIN ]] || { log "build first: make build"; exit 1; }

metric() { # name -> value from /metrics
  curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v n="$1" '$1 == n {print $2}'
}
buckets() { curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep '^sesame_smtp_commit_seconds_bucket' ; }
# quantile q from two bucket dumps (before, after): linear interpolation inside the bucket
quantile() {
  awk -v q="$1" '
    FNR == NR { match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5); before[le] = $2; next }
    { match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5); n++; les[n] = le; cum[n] = $2 - before[le] }
    END {
      total = cum[n]; if (total == 0) { print "nan"; exit }
      target = q * total; prev_le = 0; prev_c = 0
      for (i = 1; i <= n; i++) {
        if (cum[i] >= target) {
          hi = (les[i] == "+Inf") ? prev_le * 2 : les[i]
          frac = (cum[i] - prev_c) > 0 ? (target - prev_c) / (cum[i] - prev_c) : 1
          printf "%.2f", (prev_le + (hi - prev_le) * frac) * 1000; exit
        }
        prev_le = les[i]; prev_c = cum[i]
      }
    }' "$2" "$3"
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{ if (NR%2) print v[(NR+1)/2]; else printf "%.1f\n", (v[NR/2]+v[NR/2+1])/2 }'; }

{ sesame_base_config "$WORK/data" "$PORT" "$HTTP_PORT"; cat <<YAML
spool: {sync: true}
YAML
} >"$WORK/sesame.yaml"

rates=() p50s=() p99s=() per_sync=()
for ((r = 1; r <= RUNS; r++)); do
  rm -rf "$WORK/data"
  "$BIN" serve --config "$WORK/sesame.yaml" >"$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -s "http://127.0.0.1:$HTTP_PORT/health" >/dev/null && break; sleep 0.05; done
  buckets >"$WORK/b0"; s0=$(metric sesame_spool_syncs_total)
  t0=$(date +%s.%N)
  timeout 600 smtp-source -c -s "$SESSIONS" -m "$MSGS" -l "$SIZE" -f a@example.com -t b@example.org \
    "127.0.0.1:$PORT" >"$WORK/source.out" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  buckets >"$WORK/b1"; s1=$(metric sesame_spool_syncs_total)
  accepted=$(metric 'sesame_smtp_messages_accepted_total{listener="smtp"}')
  kill "$PID"; wait "$PID" 2>/dev/null; PID=
  [[ $rc == 0 ]] || { log "smtp-source failed rc=$rc: $(tr '\r' '\n' <"$WORK/source.out" | tail -3)"; exit 1; }
  [[ $accepted == "$MSGS" ]] || { log "server accepted $accepted of $MSGS"; exit 1; }
  el=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
  rates+=("$(awk -v m="$MSGS" -v e="$el" 'BEGIN{printf "%.1f", m/e}')")
  p50s+=("$(quantile 0.50 "$WORK/b0" "$WORK/b1")")
  p99s+=("$(quantile 0.99 "$WORK/b0" "$WORK/b1")")
  per_sync+=("$(awk -v m="$MSGS" -v s="$((s1 - s0))" 'BEGIN{printf "%.1f", m/s}')")
  log "sesame run $r: ${el}s ${rates[-1]} msg/s, commit p50 ${p50s[-1]} ms p99 ${p99s[-1]} ms, ${per_sync[-1]} msgs per fdatasync"
done
sesame_rate=$(median "${rates[@]}")
echo "sesame inject_msgs_per_s=$sesame_rate p50_ms=$(median "${p50s[@]}") p99_ms=$(median "${p99s[@]}") msgs_per_sync=$(median "${per_sync[@]}") msgs=$MSGS sessions=$SESSIONS size=$SIZE runs=$(IFS=,; echo "${rates[*]}")"

if [[ ${PEERS:-1} == 1 ]]; then
  if [[ $(id -u) != 0 ]]; then log "peer benchmarks need root; skipping"; exit 0; fi
  raw=$("$PEERS_DIR/bench-raw.sh" | tail -1); echo "$raw"
  pf=$("$PEERS_DIR/bench-postfix.sh" | tail -1); echo "$pf"
  raw_rate=$(sed -n 's/.*raw_msgs_per_s=\([0-9.]*\).*/\1/p' <<<"$raw")
  pf_rate=$(sed -n 's/.*inject_msgs_per_s=\([0-9.]*\).*/\1/p' <<<"$pf")
  awk -v s="$sesame_rate" -v p="$pf_rate" -v r="$raw_rate" 'BEGIN{
    printf "summary sesame/postfix=%.2fx (target >= 3) sesame/raw=%.2f (target >= 0.5)\n", s/p, s/r }'
fi
