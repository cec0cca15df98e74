#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"

namespace sesame::config {

struct Listener {
  bool enabled = true;
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  bool tls = false;  // http only: HTTPS with the server certificate
};

struct SmtpUser {
  std::string username;
  std::string password;
};

// An IPv4 or IPv6 network, e.g. 127.0.0.0/8.
struct Network {
  std::string text;
  bool v6 = false;
  std::array<uint8_t, 16> addr{};
  int prefix = 0;
  // `ip` is textual; IPv4-mapped IPv6 addresses match IPv4 networks.
  bool Contains(const std::string& ip) const;
};

struct Limits {
  uint64_t max_message_bytes = 40ull << 20;
  uint32_t max_recipients = 50;
  uint32_t max_connections = 1000;
  uint32_t max_connections_per_ip = 100;
  uint32_t max_errors = 10;
  uint32_t command_timeout_seconds = 300;  // RFC 5321 4.5.3.2.7
  uint32_t data_timeout_seconds =
      600;  // between DATA chunks (4.5.3.2.6 is 3 min/block; we are lenient)
  // HTTP: connections in all and per client address; past them a small
  // reserve still answers /health and /ready, everything else gets 503.
  uint32_t max_http_connections = 4000;
  uint32_t max_http_connections_per_ip = 1000;
  // The whole request header (idle keep-alive time included) must arrive
  // within this; the body at no less than http_min_body_bytes_per_second.
  uint32_t http_header_timeout_seconds = 20;
  uint32_t http_min_body_bytes_per_second = 16 * 1024;
};

// Traffic shaping for a destination. In a rule, 0 means "inherit the default".
struct Shaping {
  std::string match;  // domain or MX-host pattern ("*.example.com"); empty for
                      // the default
  uint32_t max_connections = 0;
  uint32_t messages_per_connection = 0;
  double rate_per_second = 0;  // deliveries; 0 = unlimited
  double rate_per_hour = 0;
};

// Reply text that means "slow down": suspend the site, then ramp back up.
struct BackoffRule {
  std::string pattern;  // case-insensitive substring of the reply
  uint32_t suspend_seconds = 60;
  uint32_t ramp_seconds =
      30;  // connections double every ramp_seconds after the suspension
};

// A static route (transport map entry): domains to an ordered list of relays.
struct Route {
  std::string match;               // "example.com", "*.example.com" or "*"
  std::vector<std::string> hosts;  // "host:port", primary first
  uint32_t health_interval_seconds = 10;
  uint32_t health_timeout_seconds = 5;
};

// Where a configuration set publishes events of the matching types: an
// SNS-style topic of this server (events.topics).
struct EventDestination {
  std::string name;
  bool enabled = true;
  std::vector<std::string> matching_event_types;  // SEND, BOUNCE, ...
  std::string topic;                              // a topic name
};

// A subscriber of a topic: http/https (SNS envelope, signed) or file (JSON
// lines).
struct Subscription {
  std::string protocol;  // http | https | file
  std::string endpoint;  // URL or path
  bool raw = false;      // body is the event itself, not the SNS envelope
  bool confirm = true;   // http(s): SubscriptionConfirmation first
  uint32_t max_concurrency = 8;
  // Requests pipelined per connection (HTTP/1.1): 1 sends the next only
  // after the answer, as SNS does; more saves the endpoint and Sesame a
  // round trip and a wakeup per event. Unanswered requests are sent again
  // (at-least-once: subscribers dedupe by MessageId).
  uint32_t pipeline = 1;
};

struct Topic {
  std::string name;
  std::vector<Subscription> subscriptions;
};

struct Events {
  std::vector<Topic> topics;
  uint32_t min_retry_seconds = 1;
  uint32_t max_retry_seconds = 300;        // back-off ceiling
  uint32_t retry_for_seconds = 24 * 3600;  // then the subscription's DLQ
  uint32_t timeout_seconds = 15;           // per HTTP delivery
  // Outbox group commit: at most one fdatasync per interval (events wait
  // that long at most; the mail spool keeps the disk to itself).
  uint32_t sync_interval_ms = 50;
  // The SNS signing key: "rsa" (RSA-2048, as SNS) or "ecdsa" (P-256).
  std::string signing = "rsa";
  // Scheduling priority (nice) of the publisher's threads: mail first.
  uint32_t nice = 10;
};

// What an alarm does when it enters ALARM.
struct AlarmAction {
  std::string topic;                    // publish the notification there
  std::string pause_configuration_set;  // stop sending for this set
  bool pause_account = false;           // stop sending for the account
};

// A CloudWatch-style alarm on the sending statistics.
struct Alarm {
  std::string name;
  std::string metric;  // sends deliveries bounces soft_bounces complaints
                       // deferrals rejects bounce_rate complaint_rate
  std::string statistic = "Sum";  // Sum Average Maximum (per minute)
  uint32_t period_seconds = 300;
  uint32_t evaluation_periods = 1;
  double threshold = 0;
  std::string comparison = "GreaterThanThreshold";
  std::string configuration_set;  // dimension; empty: the account
  std::vector<AlarmAction> actions;
};

// Reputation: rolling bounce and complaint rates and their enforcement.
struct ReputationConfig {
  bool enforce = true;  // SHUTDOWN pauses sending until re-enabled
  uint32_t window_hours = 24;
  uint32_t min_sends = 100;
  double probation_bounce_rate = 0.05, shutdown_bounce_rate = 0.10;
  double probation_complaint_rate = 0.001, shutdown_complaint_rate = 0.005;
};

struct ConfigurationSet {
  std::string name;
  bool tls_required = false;  // DeliveryOptions.TlsPolicy = REQUIRE
  uint32_t max_delivery_seconds =
      50400;  // DeliveryOptions.MaxDeliverySeconds, 300..50400
  std::vector<EventDestination> event_destinations;
};

struct Delivery {
  std::string mode =
      "smtp";  // smtp | capture | hold (accept, keep queued, deliver nothing)
  std::string ehlo_name;  // default: hostname
  std::string source_address;
  // delivery.dedicated_ips: this host's addresses that SES's dedicated IP
  // API manages (GetDedicatedIps, PutDedicatedIpInPool): mail of a
  // configuration set whose SendingPoolName names a pool leaves from that
  // pool's addresses.
  std::vector<std::string> dedicated_ips;
  std::string resolver;  // "127.0.0.1:5353"; empty: /etc/resolv.conf
  // VERP: return paths b+<token>@verp_domain (one transaction per recipient);
  // the MX accepts the domain and maps bounces back. Empty: off.
  std::string verp_domain;
  uint16_t mx_port = 25;
  uint32_t retry_first_seconds = 60;
  double retry_factor = 2;
  uint32_t retry_max_seconds = 3600;
  uint32_t max_delivery_seconds = 50400;  // 14 h
  bool expired_to_dead_letter = false;    // on_expiry: bounce | dead_letter
  bool tls_required = false;              // tls: opportunistic | require
  bool dsn = true;
  // RFC 5321 4.5.3.2 defaults (seconds).
  uint32_t connect_timeout = 30, greeting_timeout = 300, ehlo_timeout = 300,
           mail_timeout = 300, rcpt_timeout = 300, data_timeout = 120,
           data_block_timeout = 180, data_end_timeout = 600, idle_seconds = 5;
  Shaping shaping_default{"", 20, 100, 0, 0};
  std::vector<Shaping> shaping;
  std::vector<BackoffRule> backoff;
  std::vector<Route> routes;
  std::vector<ConfigurationSet> configuration_sets;
};

// receiving: SES email receiving's outside parts (the receipt rules
// themselves are API resources).
struct Receiving {
  // S3 actions write here (path-style requests, SigV4-signed).
  std::string s3_endpoint;  // "http://127.0.0.1:4568"; empty: S3 actions fail
  std::string s3_region;    // default: api.region
  std::string s3_access_key_id;
  std::string s3_secret_access_key;
  // Lambda actions POST their event to the function's URL.
  std::map<std::string, std::string> lambda_function_urls;  // ARN -> URL
  // ScanEnabled rules: SpamAssassin's spamd and ClamAV's clamd
  // ("host:port" or a Unix socket path); empty: GRAY / PROCESSING_FAILED.
  std::string spamd;
  std::string clamd;
  std::string ca_file;  // extra trust for https S3 and function URLs
  uint32_t timeout_seconds = 30;
  uint32_t retry_for_seconds = 3600;  // then the message is dead-lettered
};

// The whole validated configuration. Plain data; copy freely.
struct Config {
  std::string source = "<built-in local profile>";
  std::string profile = "local";
  std::string data_dir = "./var";
  // The state store: "sqlite" (<data_dir>/state.db, one node) or
  // "postgres" (store_dsn, a libpq connection string; several nodes).
  std::string store_backend = "sqlite";
  std::string store_dsn;
  // How long sends go on from the in-memory snapshots while the shared
  // store is unreachable; after that they are refused (451 / 503) until it
  // returns. 0 = as long as the outage lasts.
  uint32_t store_outage_grace_seconds = 300;
  // Cluster-wide throttles (cluster::Redis): "host:port", empty = this
  // node's in-process limits only.
  std::string redis_host;
  uint16_t redis_port = 0;
  // A connection lease not renewed for this long is free again (a node
  // that died holding it).
  uint32_t redis_lease_seconds = 10;
  std::string hostname = "sesame.localhost";
  uint32_t threads = 0;  // 0 = one per core
  std::string log_level = "info";
  std::string log_format = "json";  // json lines, or text
  Listener smtp{true, "127.0.0.1", 2587};
  Listener smtps{true, "127.0.0.1", 2465};
  Listener mx{true, "127.0.0.1", 2525};
  Listener http{true, "127.0.0.1", 8080};
  std::string
      tls_cert_file;  // default <data_dir>/tls/cert.pem, generated when absent
  std::string tls_key_file;  // default <data_dir>/tls/key.pem
  Limits limits;
  bool auth_without_tls = false;
  std::vector<SmtpUser> smtp_users;
  std::vector<Network>
      relay_networks;  // may relay without AUTH (keep empty unless trusted)
  std::vector<std::string> mx_domains;  // accepted without AUTH, lower-case
  Delivery delivery;
  std::string api_region = "us-east-1";
  // The owner account: in identity ARNs (arn:aws:ses:<region>:<account>:...)
  // and the account of access keys created without --account.
  std::string api_account_id = "000000000000";
  uint32_t api_max_clock_skew_seconds = 900;  // 15 minutes, as AWS
  bool api_local_mailbox = false;  // GET/DELETE /_aws/ses (LocalStack format)
  bool api_auto_verify =
      false;  // identities count as verified at once (local profile)
  // The domain of the Message-ID Sesame gives API mail without one
  // (<id@domain>): api.message_id_domain; default the hostname, SES's
  // "email.amazonses.com" on the local profile (a faithful stand-in).
  std::string api_message_id_domain;
  std::string api_public_url;  // base of links in verification mail; default
                               // from listeners.http
  bool api_sandbox =
      false;  // recipients must be verified identities too (SES sandbox)
  std::string feedback_rules_file;  // extra bounce classification rules
  std::vector<Alarm> alarms;
  ReputationConfig reputation;
  // The web dashboard at "/": login with an owner access key (id and secret)
  // or these admin credentials (both empty: access keys only).
  bool dashboard_enabled = true;
  std::string dashboard_admin_user;
  std::string dashboard_admin_password;
  uint32_t dashboard_session_hours = 12;
  Events events;
  Receiving receiving;
  bool dkim_ed25519 = false;  // add an Ed25519 signature beside RSA (RFC 8463)
  // dkim.signing_threads: the signing pool (0 = one per core).
  int dkim_signing_threads = 0;
  uint32_t identity_verify_interval_seconds = 300;  // DNS re-check period
  uint32_t identity_failure_after_seconds =
      72 * 3600;                   // PENDING/TEMPORARY_FAILURE -> FAILED
  double quota_max_send_rate = 0;  // recipients per second; 0 = unlimited
  double quota_max_24_hour_send =
      -1;                       // recipients per rolling 24 h; -1 = unlimited
  std::string master_key_file;  // default: <data_dir>.master.key, outside the
                                // data directory
  bool spool_sync = true;
  uint64_t spool_segment_bytes = 256ull << 20;
  uint64_t spool_min_free_bytes = 64ull << 20;  // spool.min_free_space

  std::string CertFile() const {
    return tls_cert_file.empty() ? data_dir + "/tls/cert.pem" : tls_cert_file;
  }
  std::string KeyFile() const {
    return tls_key_file.empty() ? data_dir + "/tls/key.pem" : tls_key_file;
  }
  // Beside, not inside, the data directory: a copy of the data directory
  // alone must not reveal access-key secrets.
  std::string MasterKeyFile() const {
    std::string d = data_dir;
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    return master_key_file.empty() ? d + ".master.key" : master_key_file;
  }
  std::string AccessKeysFile() const { return data_dir + "/access-keys"; }
  // IAM users, groups and policies (auth::IamStore).
  std::string IamFile() const { return data_dir + "/iam.json"; }
  // The bearer token of local admin tools (the CLI, scripts): /admin/* needs
  // it, a dashboard session or an owner's SigV4 signature, from loopback too.
  std::string AdminTokenFile() const { return data_dir + "/admin.token"; }
};

// The built-in local profile (design.md): loopback listeners, ./var, a
// development SMTP user, and bounce domains for the MX.
Config LocalProfile();

// Parses and validates YAML text. `source` names the file in messages. Errors
// are permanent and read "<file>:<line>:<col>: <key.path>: <reason>".
Result<Config> ParseConfig(const std::string& yaml, const std::string& source);
Result<Config> LoadConfigFile(const std::string& path);

// Settings that are valid but risky (clear-text AUTH, an API listening
// beyond loopback without TLS, short passwords, a relay for everyone): one
// sentence each, for `sesame config check`. Pure.
std::vector<std::string> Warnings(const Config& c);

Result<Network> ParseNetwork(const std::string& text);

// The top-level keys whose values differ between two YAML documents (a key
// in one only counts), sorted: what a reload must apply or report. Text
// that does not parse as YAML counts as every key changed. Pure.
std::vector<std::string> ChangedKeys(const std::string& old_yaml,
                                     const std::string& new_yaml);

}  // namespace sesame::config
