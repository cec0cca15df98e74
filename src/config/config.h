#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace sesame::config {

struct Listener {
  bool enabled = true;
  std::string address = "127.0.0.1";
  uint16_t port = 0;
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
};

// The whole validated configuration. Plain data; copy freely.
struct Config {
  std::string source = "<built-in local profile>";
  std::string profile = "local";
  std::string data_dir = "./var";
  std::string hostname = "sesame.localhost";
  uint32_t threads = 0;  // 0 = one per core
  std::string log_level = "info";
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
  bool spool_sync = true;
  uint64_t spool_segment_bytes = 256ull << 20;

  std::string CertFile() const {
    return tls_cert_file.empty() ? data_dir + "/tls/cert.pem" : tls_cert_file;
  }
  std::string KeyFile() const {
    return tls_key_file.empty() ? data_dir + "/tls/key.pem" : tls_key_file;
  }
};

// The built-in local profile (design.md): loopback listeners, ./var, a
// development SMTP user, and bounce domains for the MX.
Config LocalProfile();

// Parses and validates YAML text. `source` names the file in messages. Errors
// are permanent and read "<file>:<line>:<col>: <key.path>: <reason>".
Result<Config> ParseConfig(const std::string& yaml, const std::string& source);
Result<Config> LoadConfigFile(const std::string& path);

Result<Network> ParseNetwork(const std::string& text);

}  // namespace sesame::config
