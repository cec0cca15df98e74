#!/usr/bin/env bash
# API benchmark: SES v2 SendEmail (Simple, 5 KB body, SigV4-signed) with concurrent clients (wrk),
# next to the SMTP ingestion rate (bench/ingest.sh, Sesame only) in the same run. A signature
# stays valid inside the 15-minute skew window, so one pre-signed request is replayed.
# Every 200 means the message is durable in the spool (group-committed fsync).
#
# DKIM=1 adds a second run in the same server, From a domain identity with an Easy DKIM
# RSA-2048 key (every message signed on the signing pool), and reports it next to the unsigned
# rate, `openssl speed rsa2048` on this machine, and the compute bound: cores / (the unsigned
# cost per message + one signature).
#
# Env: CONNECTIONS (20), DURATION (10 s), SESAME_HTTP_PORT (3590), SMTP=0 to skip the SMTP run,
#      DKIM=1.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SESAME_BIN:-$ROOT/build/sesame}  # SESAME_BIN: another build (bench/compare.sh)
CONNECTIONS=${CONNECTIONS:-20}
DURATION=${DURATION:-10}
HTTP_PORT=${SESAME_HTTP_PORT:-3590}
WORK=$(mktemp -d /tmp/sesame-api-bench.XXXXXX)
PID=
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
command -v wrk >/dev/null || { log "wrk missing: run scripts/install-deps"; exit 1; }

cat >"$WORK/sesame.yaml" <<YAML
profile: production
data_dir: $WORK/data
hostname: bench.sesame.test
log_level: warn
listeners:
  smtp: {enabled: false}
  smtps: {enabled: false}
  mx: {enabled: false}
  http: {address: 127.0.0.1, port: $HTTP_PORT}
delivery: {mode: hold}
api: {auto_verify: true}
YAML
"$BIN" serve --config "$WORK/sesame.yaml" >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -s "http://127.0.0.1:$HTTP_PORT/health" >/dev/null && break; sleep 0.05; done
KEY=$("$BIN" keys create --json --config "$WORK/sesame.yaml")

# Pre-sign one request with botocore and write it as a wrk script: sign_request FROM OUT.
sign_request() {
  /usr/bin/python3 - "$KEY" "$HTTP_PORT" "$1" "$2" <<'PY'
import json, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
key, port, sender, out = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
body = json.dumps({"FromEmailAddress": sender, "Destination": {"ToAddresses": ["sink@example.org"]},
                   "Content": {"Simple": {"Subject": {"Data": "api bench"},
                                          "Body": {"Text": {"Data": ("x" * 70 + "\n") * 70}}}}})
req = AWSRequest(method="POST", url=f"http://127.0.0.1:{port}/v2/email/outbound-emails", data=body.encode(),
                 headers={"Content-Type": "application/json"})
SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "ses", "us-east-1").add_auth(req)
lua = ['wrk.method = "POST"', "wrk.body = " + json.dumps(body)]
for k, v in req.headers.items():
    lua.append(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}")
open(out, "w").write("\n".join(lua) + "\n")
PY
}
# run_wrk LUA -> sets rps p50 p99 (fails on any non-2xx answer)
run_wrk() {
  log "wrk: $CONNECTIONS connections, ${DURATION}s ($1)"
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$1" "http://127.0.0.1:$HTTP_PORT/v2/email/outbound-emails" \
    >"$WORK/wrk.out" 2>&1
  non2xx=$(grep -o 'Non-2xx or 3xx responses: [0-9]*' "$WORK/wrk.out" | grep -o '[0-9]*$' || echo 0)
  [[ ${non2xx:-0} == 0 ]] || { log "$non2xx requests failed"; cat "$WORK/wrk.out" >&2; exit 1; }
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.out")
  p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.out")
  p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.out")
}
sign_request bench@example.com "$WORK/request.lua"
run_wrk "$WORK/request.lua"
if [[ ${DKIM:-0} == 1 ]]; then
  unsigned=$rps unsigned_p50=$p50 unsigned_p99=$p99
  # A domain identity gets its Easy DKIM key (RSA-2048) at creation; auto_verify signs at once.
  /usr/bin/python3 - "$KEY" "$HTTP_PORT" <<'PY' || { log "cannot create the DKIM identity"; exit 1; }
import json, sys, boto3
key, port = json.loads(sys.argv[1]), sys.argv[2]
v2 = boto3.client("sesv2", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                  aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
v2.create_email_identity(EmailIdentity="dkim.bench.test")
PY
  sign_request bench@dkim.bench.test "$WORK/signed.lua"
  run_wrk "$WORK/signed.lua"
  signed=$rps
  signatures=$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk '$1 == "sesame_admission_dkim_signed_total" {print $2}')
  cores=$(nproc)
  sign_per_s=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $6}')
  bound=$(awk -v c="$cores" -v u="$unsigned" -v s="$sign_per_s" 'BEGIN{ printf "%.0f", c / (c/u + 1/s) }')
  echo "sesame-api-dkim unsigned_per_s=$unsigned signed_per_s=$signed signed_p50=$p50 unsigned_p50=$unsigned_p50" \
    "signatures=$signatures openssl_rsa2048_sign_per_s=$sign_per_s cores=$cores compute_bound_per_s=$bound" \
    "$(awk -v s="$signed" -v b="$bound" 'BEGIN{ printf "signed_of_bound=%.2f (target >= 0.85)", s/b }')"
fi
accepted=$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk '$1 == "sesame_api_messages_accepted_total" {print $2}')
kill "$PID"; wait "$PID" 2>/dev/null; PID=
[[ ${DKIM:-0} == 1 ]] && rps=$unsigned p50=$unsigned_p50 p99=$unsigned_p99
echo "sesame-api sendemail_per_s=$rps p50=$p50 p99=$p99 accepted=$accepted connections=$CONNECTIONS duration_s=$DURATION"
if [[ ${SMTP:-1} == 1 ]]; then
  smtp=$(PEERS=0 RUNS=1 "$ROOT/bench/ingest.sh" 2>/dev/null | tail -1); echo "$smtp"
  smtp_rate=$(sed -n 's/.*inject_msgs_per_s=\([0-9.]*\).*/\1/p' <<<"$smtp")
  awk -v a="$rps" -v s="$smtp_rate" 'BEGIN{ printf "summary api/smtp=%.2f (target >= 0.8)\n", a/s }'
fi
