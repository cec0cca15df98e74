#!/usr/bin/env bash
# Relay benchmark: smtp-source (20 sessions, 20,000 messages of 5 KB) -> Sesame -> smtp-sink,
# end to end: from injection start until smtp-sink has counted every message. Sesame accepts
# durably (fdatasync before 250) and relays through a static route to the sink, like Postfix's
# relayhost in ../shared/peers/bench-postfix.sh, which runs side by side in the same run.
#
# DKIM=1 runs Sesame a second time with every message signed (a domain identity for the From
# domain, example.com, with its Easy DKIM RSA-2048 key) and Postfix with OpenDKIM as a milter
# (PF_DKIM=1), and reports signed against unsigned, `openssl speed rsa2048` and the compute
# bound: cores / (the unsigned cost per message + one signature).
#
# Env: MSGS SESSIONS SIZE RUNS (as the peer scripts), PEERS=0 to skip Postfix, DKIM=1,
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

# A domain identity for smtp-source's From domain: its Easy DKIM key signs every message.
add_dkim_identity() {
  local key
  key=$("$BIN" keys create --json --config "$WORKDIR/sesame.yaml") || die "keys create failed"
  /usr/bin/python3 - "$key" "$HTTP_PORT" "${FROM_ADDR#*@}" <<'PY' || die "cannot create the DKIM identity"
import json, sys, boto3
key, port, domain = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
v2 = boto3.client("sesv2", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                  aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
v2.create_email_identity(EmailIdentity=domain)
PY
}

# sesame_runs SIGNED(0|1) -> sets e2e_median, inj_median, rates_list
sesame_runs() {
  local rates=() inj=() r base target t0 t1 t2 rc
  for ((r = 1; r <= RUNS; r++)); do
    rm -rf "$WORKDIR/data"
    "$BIN" serve --config "$WORKDIR/sesame.yaml" >"$WORKDIR/server.log" 2>&1 &
    PID=$!
    wait_listen "$PORT" 10 || die "sesame did not start: $(tail -5 "$WORKDIR/server.log")"
    [[ $1 == 1 ]] && add_dkim_identity
    base=$(sink_count); target=$((base + MSGS))
    t0=$(now)
    run_source "$PORT"; rc=$?
    t1=$(now)
    (( rc == 0 )) || die "smtp-source failed rc=$rc: $(source_tail "$PORT")"
    sink_wait_count "$target" "$RUN_TIMEOUT" || die "sink got only $(( $(sink_count) - base ))/$MSGS"
    t2=$(now)
    [[ $1 == 1 ]] && { signed=$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" |
      awk '$1 == "sesame_admission_dkim_signed_total" {print $2}'); log "signatures: ${signed:-?}"; }
    kill "$PID"; wait "$PID" 2>/dev/null; PID=
    inj+=("$(fdiv "$MSGS" "$(fsub "$t1" "$t0")")")
    rates+=("$(fdiv "$MSGS" "$(fsub "$t2" "$t0")")")
    log "sesame run $r$([[ $1 == 1 ]] && echo " (DKIM)"): inject ${inj[-1]}/s, end to end ${rates[-1]}/s"
  done
  e2e_median=$(median "${rates[@]}") inj_median=$(median "${inj[@]}") rates_list=$(IFS=,; echo "${rates[*]}")
}

sink_start
sesame_runs 0
sesame_e2e=$e2e_median
echo "sesame inject_msgs_per_s=$inj_median e2e_msgs_per_s=$sesame_e2e msgs=$MSGS sessions=$SESSIONS size=$SIZE runs_e2e=$rates_list"
if [[ ${DKIM:-0} == 1 ]]; then
  sesame_runs 1
  cores=$(nproc)
  sign_per_s=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $6}')
  bound=$(awk -v c="$cores" -v u="$sesame_e2e" -v s="$sign_per_s" 'BEGIN{ printf "%.0f", c / (c/u + 1/s) }')
  sesame_dkim=$e2e_median
  echo "sesame-dkim e2e_msgs_per_s=$sesame_dkim unsigned_e2e_msgs_per_s=$sesame_e2e runs_e2e=$rates_list" \
    "openssl_rsa2048_sign_per_s=$sign_per_s cores=$cores compute_bound_per_s=$bound" \
    "$(awk -v s="$sesame_dkim" -v b="$bound" 'BEGIN{ printf "signed_of_bound=%.2f (target >= 0.85)", s/b }')"
fi
sink_stop

if [[ ${PEERS:-1} == 1 ]]; then
  [[ $(id -u) == 0 ]] || { log "the Postfix benchmark needs root; skipping"; exit 0; }
  pf=$("$PEERS_DIR/bench-postfix.sh" | tail -1); echo "$pf"
  pf_e2e=$(sed -n 's/.*e2e_msgs_per_s=\([0-9.]*\).*/\1/p' <<<"$pf")
  awk -v s="$sesame_e2e" -v p="$pf_e2e" 'BEGIN{ printf "summary sesame/postfix end-to-end=%.2fx (target >= 3)\n", s/p }'
  if [[ ${DKIM:-0} == 1 ]]; then
    pfd=$(PF_DKIM=1 "$PEERS_DIR/bench-postfix.sh" | tail -1); echo "postfix+opendkim: $pfd"
    pfd_e2e=$(sed -n 's/.*e2e_msgs_per_s=\([0-9.]*\).*/\1/p' <<<"$pfd")
    awk -v s="$sesame_dkim" -v p="$pfd_e2e" 'BEGIN{ printf "summary signed sesame/postfix+opendkim end-to-end=%.2fx (target >= 12)\n", s/p }'
  fi
fi
