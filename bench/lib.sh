# Shared by the bench/*.sh scripts (sourced).

# sesame_base_config DATA_DIR SMTP_PORT HTTP_PORT -> the YAML every benchmark starts from: a
# production profile on loopback, SMTP relay for smtp-source (it cannot AUTH: this is Postfix's
# mynetworks), no smtps or MX listener, quiet logs. Senders count as verified (SMTP and the API
# admit the same way, and the benchmark measures throughput, not identity setup).
sesame_base_config() {
  cat <<YAML
profile: production
data_dir: $1
hostname: bench.sesame.test
log_level: warn
listeners:
  smtp: {address: 127.0.0.1, port: $2}
  smtps: {enabled: false}
  mx: {enabled: false}
  http: {address: 127.0.0.1, port: $3}
smtp:
  relay_networks: [127.0.0.0/8]
limits: {max_connections_per_ip: 1000}
api: {auto_verify: true}
YAML
}

# sesame_relay_config DATA_DIR SMTP_PORT HTTP_PORT SINK_PORT -> the base config relaying everything
# through a static route to smtp-sink (Postfix's relayhost in ../shared/peers/bench-postfix.sh).
sesame_relay_config() {
  sesame_base_config "$1" "$2" "$3"
  cat <<YAML
delivery:
  mode: smtp
  shaping: {default: {max_connections: 20, messages_per_connection: 1000}}
routes:
  - {match: "*", hosts: ["127.0.0.1:$4"], health_check: {interval_seconds: 10}}
YAML
}
