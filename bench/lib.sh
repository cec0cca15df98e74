# Shared by the bench/*.sh scripts (sourced).

# sesame_base_config DATA_DIR SMTP_PORT HTTP_PORT -> the YAML every benchmark starts from: a
# production profile on loopback, SMTP relay for smtp-source (it cannot AUTH: this is Postfix's
# mynetworks), no smtps or MX listener, quiet logs.
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
YAML
}
