#include "config/config.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace sesame::config {
namespace {

// Walks a YAML mapping against a schema of known keys, producing precise
// errors and rejecting unknown keys.
class Walker {
 public:
  explicit Walker(std::string source) : source_(std::move(source)) {}

  Error Fail(const YAML::Node& node, const std::string& path,
             const std::string& reason) const {
    std::string where = source_;
    if (node.IsDefined() && node.Mark().line >= 0) {
      where += ":" + std::to_string(node.Mark().line + 1) + ":" +
               std::to_string(node.Mark().column + 1);
    }
    return Error::Permanent(
        "config",
        where + ": " + (path.empty() ? "(top level)" : path) + ": " + reason);
  }

  using Handler =
      std::function<Status(const YAML::Node&, const std::string& path)>;

  // Walks a mapping. A bad key or value is recorded (Errors()) and the walk
  // goes on, so one run reports every mistake in the file; the mapping's own
  // shape (not a mapping at all) fails at once.
  Status Map(const YAML::Node& node, const std::string& path,
             const std::map<std::string, Handler>& keys) {
    if (node.IsNull()) return Ok{};
    if (!node.IsMap()) return Fail(node, path, "must be a mapping");
    std::map<std::string, int> seen;  // key -> line (1-based) of first use
    for (const auto& kv : node) {
      std::string key = kv.first.Scalar();
      std::string sub = path.empty() ? key : path + "." + key;
      int line = kv.first.Mark().line + 1;
      if (auto [it, fresh] = seen.emplace(key, line); !fresh) {
        // YAML forbids it, and "the last one wins" hides typos.
        Record(Fail(kv.first, sub,
                    "duplicate key (first given at line " +
                        std::to_string(it->second) + ", again at line " +
                        std::to_string(line) + ")"));
        continue;
      }
      auto it = keys.find(key);
      if (it == keys.end()) {
        std::string known;
        for (const auto& [k, h] : keys)
          known += (known.empty() ? "" : ", ") + k;
        Record(Fail(kv.first, sub, "unknown key (known keys: " + known + ")"));
        continue;
      }
      Status s = it->second(kv.second, sub);
      if (!s.ok()) Record(s.error());
    }
    return Ok{};
  }

  // Every error found so far, in file order of discovery.
  void Record(const Error& e) { errors_.push_back(e.message()); }
  const std::vector<std::string>& Errors() const { return errors_; }

  Handler String(std::string* out, bool allow_empty = false) {
    return [this, out, allow_empty](const YAML::Node& n,
                                    const std::string& path) -> Status {
      if (!n.IsScalar()) return Fail(n, path, "must be a string");
      if (!allow_empty && n.Scalar().empty())
        return Fail(n, path, "must not be empty");
      if (n.Scalar().find('\0') != std::string::npos)
        return Fail(n, path, "must not contain a NUL character");
      *out = n.Scalar();
      return Ok{};
    };
  }

  Handler Bool(bool* out) {
    return [this, out](const YAML::Node& n, const std::string& path) -> Status {
      if (!n.IsScalar()) return Fail(n, path, "must be true or false");
      const std::string& v = n.Scalar();
      if (v == "true" || v == "yes" || v == "on") {
        *out = true;
      } else if (v == "false" || v == "no" || v == "off") {
        *out = false;
      } else {
        return Fail(n, path, "must be true or false, got '" + v + "'");
      }
      return Ok{};
    };
  }

  template <typename T>
  Handler Int(T* out, uint64_t min, uint64_t max) {
    return [this, out, min, max](const YAML::Node& n,
                                 const std::string& path) -> Status {
      std::string range = "an integer between " + std::to_string(min) +
                          " and " + std::to_string(max);
      if (!n.IsScalar()) return Fail(n, path, "must be " + range);
      const std::string& v = n.Scalar();
      if (v.empty() || v.size() > 19 ||
          v.find_first_not_of("0123456789") != std::string::npos) {
        return Fail(n, path, "must be " + range + ", got '" + v + "'");
      }
      uint64_t x = std::stoull(v);
      if (x < min || x > max)
        return Fail(n, path, "must be " + range + ", got " + v);
      *out = static_cast<T>(x);
      return Ok{};
    };
  }

  Handler Double(double* out, double min, double max) {
    return [this, out, min, max](const YAML::Node& n,
                                 const std::string& path) -> Status {
      std::string range = "a number between " + Fmt(min) + " and " + Fmt(max);
      if (!n.IsScalar()) return Fail(n, path, "must be " + range);
      const std::string& v = n.Scalar();
      char* end = nullptr;
      double x = std::strtod(v.c_str(), &end);
      if (v.empty() || end != v.c_str() + v.size())
        return Fail(n, path, "must be " + range + ", got '" + v + "'");
      if (x < min || x > max)
        return Fail(n, path, "must be " + range + ", got " + v);
      *out = x;
      return Ok{};
    };
  }
  static std::string Fmt(double d) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", d);
    return b;
  }

  Handler OneOf(std::string* out, std::vector<std::string> allowed) {
    return [this, out, allowed](const YAML::Node& n,
                                const std::string& path) -> Status {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      if (n.IsScalar()) {
        for (const auto& a : allowed) {
          if (n.Scalar() == a) {
            *out = a;
            return Ok{};
          }
        }
      }
      return Fail(n, path,
                  "must be one of " + list +
                      (n.IsScalar() ? ", got '" + n.Scalar() + "'" : ""));
    };
  }

  // Sizes accept a plain byte count or a suffix: 40MB, 512KiB, 1GB.
  Handler Size(uint64_t* out, uint64_t min, uint64_t max) {
    return [this, out, min, max](const YAML::Node& n,
                                 const std::string& path) -> Status {
      std::string want = "a size between " + std::to_string(min) + " and " +
                         std::to_string(max) + " bytes (e.g. 40MB, 512KB)";
      if (!n.IsScalar()) return Fail(n, path, "must be " + want);
      std::string v = n.Scalar();
      size_t digits = v.find_first_not_of("0123456789");
      if (digits == 0 || v.empty() || digits > 15)
        return Fail(n, path, "must be " + want + ", got '" + v + "'");
      uint64_t x = std::stoull(v.substr(0, digits));
      std::string unit = digits == std::string::npos ? "" : v.substr(digits);
      static const std::map<std::string, uint64_t> kUnits = {
          {"", 1},
          {"B", 1},
          {"KB", 1024},
          {"KiB", 1024},
          {"MB", 1 << 20},
          {"MiB", 1 << 20},
          {"GB", 1ull << 30},
          {"GiB", 1ull << 30}};
      auto it = kUnits.find(unit);
      if (it == kUnits.end())
        return Fail(n, path,
                    "unknown size unit '" + unit + "' (B, KB, MB, GB)");
      x *= it->second;
      if (x < min || x > max)
        return Fail(n, path, "must be " + want + ", got " + v);
      *out = x;
      return Ok{};
    };
  }

  // "host:port": a DNS name, IPv4 address or bracketed IPv6 address.
  Handler HostPort(std::string* host, uint16_t* port) {
    return [this, host, port](const YAML::Node& n,
                              const std::string& path) -> Status {
      const std::string want = "must be host:port (e.g. 127.0.0.1:6379)";
      if (!n.IsScalar()) return Fail(n, path, want);
      const std::string& v = n.Scalar();
      size_t colon = v.rfind(':');
      if (colon == std::string::npos || colon == 0)
        return Fail(n, path, want + ", got '" + v + "'");
      std::string h = v.substr(0, colon), p = v.substr(colon + 1);
      if (h.size() > 2 && h.front() == '[' && h.back() == ']')
        h = h.substr(1, h.size() - 2);
      if (h.empty() || h.size() > 253 ||
          h.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") !=
              std::string::npos)
        return Fail(n, path, want + ", got '" + v + "'");
      if (p.empty() || p.size() > 5 ||
          p.find_first_not_of("0123456789") != std::string::npos ||
          std::stoul(p) == 0 || std::stoul(p) > 65535)
        return Fail(n, path,
                    "port must be between 1 and 65535, got '" + p + "'");
      *host = h;
      *port = static_cast<uint16_t>(std::stoul(p));
      return Ok{};
    };
  }

  Handler ListenerH(Listener* l) {
    return [this, l](const YAML::Node& n, const std::string& path) -> Status {
      return Map(
          n, path,
          {{"enabled", Bool(&l->enabled)},
           {"address",
            [this, l](const YAML::Node& a, const std::string& p) -> Status {
              if (!a.IsScalar()) return Fail(a, p, "must be an IP address");
              unsigned char buf[16];
              if (inet_pton(AF_INET, a.Scalar().c_str(), buf) != 1 &&
                  inet_pton(AF_INET6, a.Scalar().c_str(), buf) != 1) {
                return Fail(a, p,
                            "must be an IPv4 or IPv6 address, got '" +
                                a.Scalar() + "'");
              }
              l->address = a.Scalar();
              return Ok{};
            }},
           {"tls", Bool(&l->tls)},
           {"port", Int(&l->port, 1, 65535)}});
    };
  }

  Handler Sequence(const std::function<Status(const YAML::Node&,
                                              const std::string&)>& item) {
    return
        [this, item](const YAML::Node& n, const std::string& path) -> Status {
          if (n.IsNull()) return Ok{};
          if (!n.IsSequence()) return Fail(n, path, "must be a list");
          for (size_t i = 0; i < n.size(); ++i) {
            Status s = item(n[i], path + "[" + std::to_string(i) + "]");
            if (!s.ok()) Record(s.error());
          }
          return Ok{};
        };
  }

 private:
  std::string source_;
  std::vector<std::string> errors_;
};

}  // namespace

bool Network::Contains(const std::string& ip) const {
  unsigned char buf[16];
  bool is_v6 = false;
  std::string text = ip;
  if (inet_pton(AF_INET, text.c_str(), buf) != 1) {
    if (inet_pton(AF_INET6, text.c_str(), buf) != 1) return false;
    is_v6 = true;
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0,    0,
                                              0, 0, 0, 0, 0xff, 0xff};
    if (!v6 && std::equal(kMapped, kMapped + 12, buf)) {
      std::memmove(buf, buf + 12, 4);
      is_v6 = false;
    }
  }
  if (is_v6 != v6) return false;
  int bits = prefix;
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xFF : static_cast<uint8_t>(0xFF << (8 - bits));
    if ((buf[i] & mask) != (addr[i] & mask)) return false;
  }
  return true;
}

Result<Network> ParseNetwork(const std::string& text) {
  Network n;
  n.text = text;
  size_t slash = text.find('/');
  std::string host = text.substr(0, slash);
  if (inet_pton(AF_INET, host.c_str(), n.addr.data()) == 1) {
    n.v6 = false;
  } else if (inet_pton(AF_INET6, host.c_str(), n.addr.data()) == 1) {
    n.v6 = true;
  } else {
    return Error::Permanent(
        "config", "'" + text + "' is not an IP network (e.g. 127.0.0.0/8)");
  }
  int max = n.v6 ? 128 : 32;
  n.prefix = max;
  if (slash != std::string::npos) {
    std::string p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3 ||
        p.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(p) > max) {
      return Error::Permanent("config",
                              "'" + text + "' has a bad prefix length");
    }
    n.prefix = std::stoi(p);
  }
  return n;
}

Config LocalProfile() {
  Config c;
  c.api_message_id_domain = "email.amazonses.com";
  c.smtp_users = {{"sesame", "sesame"}};
  c.delivery.mode =
      "capture";  // a faithful stand-in: nothing leaves the machine
  c.mx_domains = {"bounces.sesame.localhost", "feedback.sesame.localhost"};
  c.api_local_mailbox = true;
  c.api_auto_verify = true;
  c.delivery.verp_domain = "bounces.sesame.localhost";
  return c;
}

namespace {
// RFC 1123 host names: dot-separated labels of letters, digits and inner
// hyphens, each at most 63 characters, 253 in all.
bool IsHostName(const std::string& h) {
  if (h.empty() || h.size() > 253) return false;
  size_t start = 0;
  while (start <= h.size()) {
    size_t dot = h.find('.', start);
    std::string label = h.substr(
        start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' ||
        label.back() == '-')
      return false;
    for (char ch : label)
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-')
        return false;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return true;
}
}  // namespace

std::vector<std::string> Warnings(const Config& c) {
  std::vector<std::string> out;
  if (c.auth_without_tls)
    out.push_back(
        "smtp.auth_without_tls: passwords may cross the network in "
        "clear text");
  auto loopback = [](const std::string& a) {
    return a.rfind("127.", 0) == 0 || a == "::1" || a == "localhost";
  };
  if (c.http.enabled && !c.http.tls && !loopback(c.http.address))
    out.push_back("listeners.http: the SES APIs and the dashboard listen on " +
                  c.http.address +
                  " without TLS (put a TLS proxy in front, or "
                  "set tls: true)");
  if (!c.dashboard_admin_password.empty() &&
      c.dashboard_admin_password.size() < 12)
    out.push_back("dashboard.admin_password: shorter than 12 characters");
  for (const auto& u : c.smtp_users)
    if (c.profile != "local" && u.password.size() < 12)
      out.push_back("smtp.users: the password of " + u.username +
                    " is shorter than 12 characters");
  for (const auto& n : c.relay_networks)
    if (n.prefix == 0)
      out.push_back("smtp.relay_networks: " + n.text +
                    " lets every address relay (an open relay)");
  return out;
}

Result<Config> ParseConfig(const std::string& yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return Error::Permanent(
        "config", source + ":" + std::to_string(e.mark.line + 1) + ":" +
                      std::to_string(e.mark.column + 1) +
                      ": invalid YAML: " + e.msg);
  }
  Walker w(source);
  // Start from the profile named in the file, so a file can override a few
  // keys.
  Config c;
  if (root.IsMap() && root["profile"]) {
    std::string p = root["profile"].IsScalar() ? root["profile"].Scalar() : "";
    if (p == "local") {
      c = LocalProfile();
    } else if (p != "production") {
      return w.Fail(root["profile"], "profile",
                    "must be 'local' or 'production', got '" + p + "'");
    }
    c.profile = p;
  } else {
    c.profile = "production";
  }
  c.source = source;
  std::string ignored_profile;
  bool users_seen = false;
  Status s =
      w.Map(root, "",
            {{"profile", w.String(&ignored_profile)},
             {"data_dir", w.String(&c.data_dir)},
             {"hostname", w.String(&c.hostname)},
             {"threads", w.Int(&c.threads, 0, 256)},
             {"log_level",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                static const std::set<std::string> kLevels = {"debug", "info",
                                                              "warn", "error"};
                if (!n.IsScalar() || !kLevels.count(n.Scalar())) {
                  return w.Fail(n, path,
                                "must be one of debug, info, warn, error");
                }
                c.log_level = n.Scalar();
                return Ok{};
              }},
             {"log_format", w.OneOf(&c.log_format, {"json", "text"})},
             {"listeners",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                return w.Map(n, path,
                             {{"smtp", w.ListenerH(&c.smtp)},
                              {"smtps", w.ListenerH(&c.smtps)},
                              {"mx", w.ListenerH(&c.mx)},
                              {"http", w.ListenerH(&c.http)}});
              }},
             {"store",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                return w.Map(
                    n, path,
                    {{"backend",
                      w.OneOf(&c.store_backend, {"sqlite", "postgres"})},
                     {"dsn", w.String(&c.store_dsn)},
                     {"outage_grace_seconds",
                      w.Int(&c.store_outage_grace_seconds, 0, 86400 * 7)}});
              }},
             {"redis",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                return w.Map(
                    n, path,
                    {{"address", w.HostPort(&c.redis_host, &c.redis_port)},
                     {"lease_seconds",
                      w.Int(&c.redis_lease_seconds, 2, 3600)}});
              }},
             {"tls",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                return w.Map(n, path,
                             {{"cert_file", w.String(&c.tls_cert_file)},
                              {"key_file", w.String(&c.tls_key_file)}});
              }},
             {"limits",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                Limits& l = c.limits;
                return w.Map(
                    n, path,
                    {{"max_message_size",
                      w.Size(&l.max_message_bytes, 1024, 1ull << 30)},
                     {"max_recipients", w.Int(&l.max_recipients, 1, 100000)},
                     {"max_connections", w.Int(&l.max_connections, 1, 1000000)},
                     {"max_connections_per_ip",
                      w.Int(&l.max_connections_per_ip, 1, 1000000)},
                     {"max_errors", w.Int(&l.max_errors, 1, 1000)},
                     {"command_timeout_seconds",
                      w.Int(&l.command_timeout_seconds, 1, 3600)},
                     {"data_timeout_seconds",
                      w.Int(&l.data_timeout_seconds, 1, 3600)},
                     {"max_http_connections",
                      w.Int(&l.max_http_connections, 1, 1000000)},
                     {"max_http_connections_per_ip",
                      w.Int(&l.max_http_connections_per_ip, 1, 1000000)},
                     {"http_header_timeout_seconds",
                      w.Int(&l.http_header_timeout_seconds, 1, 3600)},
                     {"http_min_body_bytes_per_second",
                      w.Int(&l.http_min_body_bytes_per_second, 1,
                            1ull << 30)}});
              }},
             {"smtp",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                return w.Map(
                    n, path,
                    {{"auth_without_tls", w.Bool(&c.auth_without_tls)},
                     {"users",
                      [&](const YAML::Node& u, const std::string& p) -> Status {
                        if (!users_seen) c.smtp_users.clear();
                        users_seen = true;
                        return w.Sequence([&](const YAML::Node& item,
                                              const std::string& ip) -> Status {
                          SmtpUser user;
                          Status st =
                              w.Map(item, ip,
                                    {{"username", w.String(&user.username)},
                                     {"password", w.String(&user.password)}});
                          if (!st.ok()) return st;
                          if (user.username.empty() || user.password.empty()) {
                            return w.Fail(item, ip,
                                          "needs both username and password");
                          }
                          for (const auto& other : c.smtp_users) {
                            if (other.username == user.username) {
                              return w.Fail(
                                  item, ip,
                                  "duplicate username '" + user.username + "'");
                            }
                          }
                          c.smtp_users.push_back(std::move(user));
                          return Ok{};
                        })(u, p);
                      }},
                     {"relay_networks",
                      [&](const YAML::Node& r, const std::string& p) -> Status {
                        c.relay_networks.clear();
                        return w.Sequence([&](const YAML::Node& item,
                                              const std::string& ip) -> Status {
                          if (!item.IsScalar())
                            return w.Fail(item, ip, "must be an IP network");
                          auto net = ParseNetwork(item.Scalar());
                          if (!net.ok())
                            return w.Fail(item, ip, net.error().message());
                          c.relay_networks.push_back(*net);
                          return Ok{};
                        })(r, p);
                      }}});
              }},
             {"mx",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                return w.Map(
                    n, path,
                    {{"domains",
                      [&](const YAML::Node& d, const std::string& p) -> Status {
                        c.mx_domains.clear();
                        return w.Sequence([&](const YAML::Node& item,
                                              const std::string& ip) -> Status {
                          if (!item.IsScalar() || item.Scalar().empty() ||
                              item.Scalar().find_first_of(" @<>") !=
                                  std::string::npos) {
                            return w.Fail(
                                item, ip,
                                "must be a domain name (or *.domain)");
                          }
                          std::string dom = item.Scalar();
                          for (char& ch : dom)
                            ch = static_cast<char>(std::tolower(ch));
                          c.mx_domains.push_back(dom);
                          return Ok{};
                        })(d, p);
                      }}});
              }},
             {"delivery",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                Delivery& d = c.delivery;
                std::string on_expiry =
                    d.expired_to_dead_letter ? "dead_letter" : "bounce";
                std::string tls = d.tls_required ? "require" : "opportunistic";
                auto shaping_fields =
                    [&](Shaping* sh) -> std::map<std::string, Walker::Handler> {
                  return {
                      {"match", w.String(&sh->match)},
                      {"max_connections",
                       w.Int(&sh->max_connections, 1, 10000)},
                      {"messages_per_connection",
                       w.Int(&sh->messages_per_connection, 1, 1000000)},
                      {"rate_per_second",
                       w.Double(&sh->rate_per_second, 0, 1e6)},
                      {"rate_per_hour", w.Double(&sh->rate_per_hour, 0, 1e9)}};
                };
                Status st = w.Map(
                    n, path,
                    {{"mode", w.OneOf(&d.mode, {"smtp", "capture", "hold"})},
                     {"ehlo_name", w.String(&d.ehlo_name)},
                     {"source_address",
                      [&](const YAML::Node& a, const std::string& p) -> Status {
                        unsigned char buf[16];
                        if (!a.IsScalar() ||
                            (inet_pton(AF_INET, a.Scalar().c_str(), buf) != 1 &&
                             inet_pton(AF_INET6, a.Scalar().c_str(), buf) !=
                                 1)) {
                          return w.Fail(a, p,
                                        "must be an IPv4 or IPv6 address");
                        }
                        d.source_address = a.Scalar();
                        return Ok{};
                      }},
                     {"dedicated_ips",
                      [&](const YAML::Node& a, const std::string& p) -> Status {
                        if (!a.IsSequence())
                          return w.Fail(a, p, "must be a list of addresses");
                        for (const auto& ip : a) {
                          unsigned char buf[16];
                          if (!ip.IsScalar() ||
                              (inet_pton(AF_INET, ip.Scalar().c_str(), buf) !=
                                   1 &&
                               inet_pton(AF_INET6, ip.Scalar().c_str(), buf) !=
                                   1))
                            return w.Fail(ip, p,
                                          "must be IPv4 or IPv6 addresses");
                          d.dedicated_ips.push_back(ip.Scalar());
                        }
                        return Ok{};
                      }},
                     {"verp_domain", w.String(&d.verp_domain)},
                     {"resolver", w.String(&d.resolver)},
                     {"mx_port", w.Int(&d.mx_port, 1, 65535)},
                     {"retry",
                      [&](const YAML::Node& r, const std::string& p) -> Status {
                        return w.Map(
                            r, p,
                            {{"first_seconds",
                              w.Int(&d.retry_first_seconds, 1, 86400)},
                             {"factor", w.Double(&d.retry_factor, 1, 100)},
                             {"max_seconds",
                              w.Int(&d.retry_max_seconds, 1, 86400)}});
                      }},
                     {"max_delivery_seconds",
                      w.Int(&d.max_delivery_seconds, 1, 50400)},
                     {"on_expiry",
                      w.OneOf(&on_expiry, {"bounce", "dead_letter"})},
                     {"tls", w.OneOf(&tls, {"opportunistic", "require"})},
                     {"dsn", w.Bool(&d.dsn)},
                     {"timeouts",
                      [&](const YAML::Node& t, const std::string& p) -> Status {
                        return w.Map(
                            t, p,
                            {{"connect", w.Int(&d.connect_timeout, 1, 3600)},
                             {"greeting", w.Int(&d.greeting_timeout, 1, 3600)},
                             {"ehlo", w.Int(&d.ehlo_timeout, 1, 3600)},
                             {"mail", w.Int(&d.mail_timeout, 1, 3600)},
                             {"rcpt", w.Int(&d.rcpt_timeout, 1, 3600)},
                             {"data", w.Int(&d.data_timeout, 1, 3600)},
                             {"data_block",
                              w.Int(&d.data_block_timeout, 1, 3600)},
                             {"data_end", w.Int(&d.data_end_timeout, 1, 3600)},
                             {"idle", w.Int(&d.idle_seconds, 1, 3600)}});
                      }},
                     {"shaping",
                      [&](const YAML::Node& sh,
                          const std::string& p) -> Status {
                        return w.Map(
                            sh, p,
                            {{"default",
                              [&](const YAML::Node& dn,
                                  const std::string& dp) -> Status {
                                auto f = shaping_fields(&d.shaping_default);
                                f.erase("match");
                                return w.Map(dn, dp, f);
                              }},
                             {"rules",
                              w.Sequence([&](const YAML::Node& item,
                                             const std::string& ip) -> Status {
                                Shaping rule;
                                Status s2 =
                                    w.Map(item, ip, shaping_fields(&rule));
                                if (!s2.ok()) return s2;
                                if (rule.match.empty())
                                  return w.Fail(item, ip,
                                                "needs a match pattern");
                                d.shaping.push_back(rule);
                                return Ok{};
                              })}});
                      }},
                     {"backoff",
                      w.Sequence([&](const YAML::Node& item,
                                     const std::string& ip) -> Status {
                        BackoffRule b;
                        Status s2 =
                            w.Map(item, ip,
                                  {{"pattern", w.String(&b.pattern)},
                                   {"suspend_seconds",
                                    w.Int(&b.suspend_seconds, 1, 86400)},
                                   {"ramp_seconds",
                                    w.Int(&b.ramp_seconds, 1, 86400)}});
                        if (!s2.ok()) return s2;
                        if (b.pattern.empty())
                          return w.Fail(item, ip, "needs a pattern");
                        for (char& ch : b.pattern)
                          ch = static_cast<char>(std::tolower(ch));
                        d.backoff.push_back(b);
                        return Ok{};
                      })}});
                d.expired_to_dead_letter = on_expiry == "dead_letter";
                d.tls_required = tls == "require";
                return st;
              }},
             {"routes", w.Sequence([&](const YAML::Node& item,
                                       const std::string& ip) -> Status {
                Route r;
                Status st = w.Map(
                    item, ip,
                    {{"match", w.String(&r.match)},
                     {"hosts", w.Sequence([&](const YAML::Node& h,
                                              const std::string& hp) -> Status {
                        if (!h.IsScalar() || h.Scalar().empty())
                          return w.Fail(h, hp, "must be host or host:port");
                        r.hosts.push_back(h.Scalar());
                        return Ok{};
                      })},
                     {"health_check",
                      [&](const YAML::Node& hc,
                          const std::string& hp) -> Status {
                        return w.Map(
                            hc, hp,
                            {{"interval_seconds",
                              w.Int(&r.health_interval_seconds, 1, 3600)},
                             {"timeout_seconds",
                              w.Int(&r.health_timeout_seconds, 1, 600)}});
                      }}});
                if (!st.ok()) return st;
                if (r.match.empty() || r.hosts.empty())
                  return w.Fail(item, ip, "needs match and at least one host");
                c.delivery.routes.push_back(r);
                return Ok{};
              })},
             {"configuration_sets",
              w.Sequence([&](const YAML::Node& item, const std::string& ip)
                             -> Status {
                ConfigurationSet cs;
                std::string tls = "OPTIONAL";
                Status st = w.Map(
                    item, ip,
                    {{"name", w.String(&cs.name)},
                     {"event_destinations",
                      w.Sequence([&](const YAML::Node& ed,
                                     const std::string& ep) -> Status {
                        EventDestination d;
                        Status s = w.Map(
                            ed, ep,
                            {{"name", w.String(&d.name)},
                             {"enabled", w.Bool(&d.enabled)},
                             {"topic", w.String(&d.topic)},
                             {"matching_event_types",
                              w.Sequence([&](const YAML::Node& t,
                                             const std::string& tp) -> Status {
                                static const std::set<std::string> kTypes = {
                                    "SEND",           "REJECT",
                                    "BOUNCE",         "COMPLAINT",
                                    "DELIVERY",       "OPEN",
                                    "CLICK",          "RENDERING_FAILURE",
                                    "DELIVERY_DELAY", "SUBSCRIPTION"};
                                if (!t.IsScalar() || !kTypes.count(t.Scalar()))
                                  return w.Fail(
                                      t, tp,
                                      "must be one of SEND, REJECT, "
                                      "BOUNCE, COMPLAINT, DELIVERY, "
                                      "OPEN, CLICK, RENDERING_FAILURE, "
                                      "DELIVERY_DELAY, SUBSCRIPTION");
                                d.matching_event_types.push_back(t.Scalar());
                                return Ok{};
                              })}});
                        if (!s.ok()) return s;
                        if (d.name.empty() || d.topic.empty())
                          return w.Fail(ed, ep, "needs a name and a topic");
                        cs.event_destinations.push_back(d);
                        return Ok{};
                      })},
                     {"tls_policy", w.OneOf(&tls, {"REQUIRE", "OPTIONAL"})},
                     {"max_delivery_seconds",
                      w.Int(&cs.max_delivery_seconds, 300, 50400)}});
                if (!st.ok()) return st;
                if (cs.name.empty()) return w.Fail(item, ip, "needs a name");
                cs.tls_required = tls == "REQUIRE";
                c.delivery.configuration_sets.push_back(cs);
                return Ok{};
              })},
             {"receiving",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                auto& r = c.receiving;
                auto urls = [&](const YAML::Node& m,
                                const std::string& p) -> Status {
                  if (!m.IsMap()) return w.Fail(m, p, "must be a mapping");
                  for (const auto& kv : m) {
                    std::string url = kv.second.Scalar();
                    if (url.rfind("https://", 0) != 0 &&
                        url.rfind("http://", 0) != 0)
                      return w.Fail(kv.second, p + "." + kv.first.Scalar(),
                                    "must be an http:// or https:// URL");
                    r.lambda_function_urls[kv.first.Scalar()] = url;
                  }
                  return Ok{};
                };
                return w.Map(
                    n, path,
                    {{"s3_endpoint", w.String(&r.s3_endpoint)},
                     {"s3_region", w.String(&r.s3_region)},
                     {"s3_access_key_id", w.String(&r.s3_access_key_id)},
                     {"s3_secret_access_key",
                      w.String(&r.s3_secret_access_key)},
                     {"lambda_function_urls", urls},
                     {"spamd", w.String(&r.spamd)},
                     {"clamd", w.String(&r.clamd)},
                     {"ca_file", w.String(&r.ca_file)},
                     {"timeout_seconds", w.Int(&r.timeout_seconds, 1, 600)},
                     {"retry_for_seconds",
                      w.Int(&r.retry_for_seconds, 1, 7 * 86400)}});
              }},
             {"dkim",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                return w.Map(n, path,
                             {{"ed25519", w.Bool(&c.dkim_ed25519)},
                              {"signing_threads",
                               w.Int(&c.dkim_signing_threads, 0, 256)}});
              }},
             {"identities",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                return w.Map(
                    n, path,
                    {{"verify_interval_seconds",
                      w.Int(&c.identity_verify_interval_seconds, 1, 86400)},
                     {"failure_after_seconds",
                      w.Int(&c.identity_failure_after_seconds, 1, 31536000)}});
              }},
             {"quotas",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                return w.Map(n, path,
                             {{"max_send_rate",
                               w.Double(&c.quota_max_send_rate, 0, 1e6)},
                              {"max_24_hour_send",
                               w.Double(&c.quota_max_24_hour_send, -1, 1e12)}});
              }},
             {"api",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                return w.Map(
                    n, path,
                    {{"region", w.String(&c.api_region)},
                     {"account_id", w.String(&c.api_account_id)},
                     {"max_clock_skew_seconds",
                      w.Int(&c.api_max_clock_skew_seconds, 1, 86400)},
                     {"local_mailbox", w.Bool(&c.api_local_mailbox)},
                     {"public_url", w.String(&c.api_public_url)},
                     {"message_id_domain", w.String(&c.api_message_id_domain)},
                     {"sandbox", w.Bool(&c.api_sandbox)},
                     {"auto_verify", w.Bool(&c.api_auto_verify)},
                     {"master_key_file", w.String(&c.master_key_file)}});
              }},
             {"dashboard",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                Status s = w.Map(
                    n, path,
                    {{"enabled", w.Bool(&c.dashboard_enabled)},
                     {"admin_user", w.String(&c.dashboard_admin_user)},
                     {"admin_password", w.String(&c.dashboard_admin_password)},
                     {"session_hours",
                      w.Int(&c.dashboard_session_hours, 1, 24 * 30)}});
                if (s.ok() && c.dashboard_admin_user.empty() !=
                                  c.dashboard_admin_password.empty())
                  return w.Fail(n, path,
                                "needs both admin_user and admin_password");
                return s;
              }},
             {"reputation",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                auto& r = c.reputation;
                return w.Map(
                    n, path,
                    {{"enforce", w.Bool(&r.enforce)},
                     {"window_hours", w.Int(&r.window_hours, 1, 24 * 14)},
                     {"min_sends", w.Int(&r.min_sends, 1, 1000000000)},
                     {"probation_bounce_rate",
                      w.Double(&r.probation_bounce_rate, 0, 1)},
                     {"shutdown_bounce_rate",
                      w.Double(&r.shutdown_bounce_rate, 0, 1)},
                     {"probation_complaint_rate",
                      w.Double(&r.probation_complaint_rate, 0, 1)},
                     {"shutdown_complaint_rate",
                      w.Double(&r.shutdown_complaint_rate, 0, 1)}});
              }},
             {"alarms", w.Sequence([&](const YAML::Node& an,
                                       const std::string& ap) -> Status {
                Alarm a;
                Status s = w.Map(
                    an, ap,
                    {{"name", w.String(&a.name)},
                     {"metric",
                      w.OneOf(&a.metric,
                              {"sends", "deliveries", "bounces", "soft_bounces",
                               "complaints", "deferrals", "rejects",
                               "bounce_rate", "complaint_rate"})},
                     {"statistic",
                      w.OneOf(&a.statistic, {"Sum", "Average", "Maximum"})},
                     {"period_seconds", w.Int(&a.period_seconds, 60, 86400)},
                     {"evaluation_periods",
                      w.Int(&a.evaluation_periods, 1, 1440)},
                     {"threshold", w.Double(&a.threshold, -1e15, 1e15)},
                     {"comparison",
                      w.OneOf(&a.comparison, {"GreaterThanThreshold",
                                              "GreaterThanOrEqualToThreshold",
                                              "LessThanThreshold",
                                              "LessThanOrEqualToThreshold"})},
                     {"configuration_set", w.String(&a.configuration_set)},
                     {"actions",
                      w.Sequence([&](const YAML::Node& xn,
                                     const std::string& xp) -> Status {
                        AlarmAction act;
                        Status xs = w.Map(
                            xn, xp,
                            {{"topic", w.String(&act.topic)},
                             {"pause_configuration_set",
                              w.String(&act.pause_configuration_set)},
                             {"pause_account", w.Bool(&act.pause_account)}});
                        if (!xs.ok()) return xs;
                        a.actions.push_back(act);
                        return Ok{};
                      })}});
                if (!s.ok()) return s;
                if (a.name.empty() || a.metric.empty())
                  return w.Fail(an, ap, "needs a name and a metric");
                c.alarms.push_back(a);
                return Ok{};
              })},
             {"events",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                return w.Map(
                    n, path,
                    {{"min_retry_seconds",
                      w.Int(&c.events.min_retry_seconds, 1, 3600)},
                     {"max_retry_seconds",
                      w.Int(&c.events.max_retry_seconds, 1, 86400)},
                     {"retry_for_seconds",
                      w.Int(&c.events.retry_for_seconds, 1, 30 * 86400)},
                     {"timeout_seconds",
                      w.Int(&c.events.timeout_seconds, 1, 300)},
                     {"sync_interval_ms",
                      w.Int(&c.events.sync_interval_ms, 0, 1000)},
                     {"signing", w.OneOf(&c.events.signing, {"rsa", "ecdsa"})},
                     {"nice", w.Int(&c.events.nice, 0, 19)},
                     {"topics",
                      w.Sequence([&](const YAML::Node& tn,
                                     const std::string& tp) -> Status {
                        Topic t;
                        Status s = w.Map(
                            tn, tp,
                            {{"name", w.String(&t.name)},
                             {"subscriptions",
                              w.Sequence([&](const YAML::Node& sn,
                                             const std::string& sp) -> Status {
                                Subscription sub;
                                Status ss = w.Map(
                                    sn, sp,
                                    {{"protocol",
                                      w.OneOf(&sub.protocol,
                                              {"http", "https", "file"})},
                                     {"endpoint", w.String(&sub.endpoint)},
                                     {"raw", w.Bool(&sub.raw)},
                                     {"confirm", w.Bool(&sub.confirm)},
                                     {"max_concurrency",
                                      w.Int(&sub.max_concurrency, 1, 1000)},
                                     {"pipeline",
                                      w.Int(&sub.pipeline, 1, 64)}});
                                if (!ss.ok()) return ss;
                                if (sub.protocol.empty() ||
                                    sub.endpoint.empty())
                                  return w.Fail(
                                      sn, sp,
                                      "needs a protocol and an endpoint");
                                if (sub.protocol != "file" &&
                                    sub.endpoint.rfind(sub.protocol + "://",
                                                       0) != 0)
                                  return w.Fail(sn, sp,
                                                "endpoint must be a " +
                                                    sub.protocol + ":// URL");
                                if (sub.protocol == "file") sub.raw = true;
                                t.subscriptions.push_back(sub);
                                return Ok{};
                              })}});
                        if (!s.ok()) return s;
                        if (t.name.empty() ||
                            t.name.find_first_not_of(
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
                                "uvwxyz"
                                "0123456789-_") != std::string::npos)
                          return w.Fail(
                              tn, tp,
                              "needs a name of letters, digits, - and _");
                        c.events.topics.push_back(t);
                        return Ok{};
                      })}});
              }},
             {"feedback",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                return w.Map(
                    n, path,
                    {{"rules_file", w.String(&c.feedback_rules_file)}});
              }},
             {"spool",
              [&](const YAML::Node& n, const std::string& path) -> Status {
                return w.Map(n, path,
                             {{"sync", w.Bool(&c.spool_sync)},
                              {"segment_size", w.Size(&c.spool_segment_bytes,
                                                      1 << 20, 1ull << 40)},
                              {"min_free_space", w.Size(&c.spool_min_free_bytes,
                                                        0, 1ull << 50)}});
              }}});
  if (!s.ok()) w.Record(s.error());
  // An unset domain follows the hostname, whose own check reports a bad one.
  if (c.api_message_id_domain.empty()) {
    c.api_message_id_domain = c.hostname;
  } else if (!IsHostName(c.api_message_id_domain)) {
    w.Record(w.Fail(root["api"]["message_id_domain"], "api.message_id_domain",
                    "'" + c.api_message_id_domain + "' is not a domain name"));
  }
  if (!IsHostName(c.hostname))
    w.Record(w.Fail(root["hostname"], "hostname",
                    "'" + c.hostname +
                        "' is not a host name (letters, digits "
                        "and hyphens in dot-separated labels)"));
  if (!c.api_public_url.empty() &&
      ((c.api_public_url.rfind("http://", 0) != 0 &&
        c.api_public_url.rfind("https://", 0) != 0) ||
       c.api_public_url.find_first_of(" \t\r\n") != std::string::npos))
    w.Record(w.Fail(root["api"]["public_url"], "api.public_url",
                    "'" + c.api_public_url + "' is not an http(s) URL"));
  // Cross-field checks.
  if (c.store_backend == "postgres" && c.store_dsn.empty())
    w.Record(w.Fail(root["store"], "store.dsn",
                    "is required with backend postgres (a libpq connection "
                    "string, e.g. \"host=db1 dbname=sesame user=sesame\")"));
  if (!c.delivery.verp_domain.empty()) {
    std::string v = c.delivery.verp_domain;
    for (char& ch : v)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (std::find(c.mx_domains.begin(), c.mx_domains.end(), v) ==
        c.mx_domains.end())
      c.mx_domains.push_back(v);
  }
  for (auto [name, l] : {std::pair<const char*, Listener*>{"smtp", &c.smtp},
                         {"smtps", &c.smtps},
                         {"mx", &c.mx}}) {
    if (l->tls) {
      w.Record(
          w.Fail(root["listeners"][name]["tls"],
                 std::string("listeners.") + name + ".tls",
                 "only the http listener takes 'tls' (smtps is always TLS; "
                 "smtp and mx offer STARTTLS)"));
    }
  }
  std::map<std::pair<std::string, uint16_t>, std::string> ports;
  for (auto [name, l] : {std::pair<const char*, Listener*>{"smtp", &c.smtp},
                         {"smtps", &c.smtps},
                         {"mx", &c.mx},
                         {"http", &c.http}}) {
    if (!l->enabled) continue;
    auto key = std::make_pair(l->address, l->port);
    if (ports.count(key)) {
      w.Record(w.Fail(root["listeners"][name]["port"],
                      std::string("listeners.") + name + ".port",
                      "port " + std::to_string(l->port) +
                          " is already used by listeners." + ports[key]));
    }
    ports[key] = name;
  }
  // Alarm actions publish to topics of this server.
  for (size_t i = 0; i < c.alarms.size(); ++i) {
    for (size_t j = 0; j < c.alarms[i].actions.size(); ++j) {
      const std::string& t = c.alarms[i].actions[j].topic;
      bool known = t.empty();
      for (const auto& topic : c.events.topics) known |= topic.name == t;
      if (!known)
        w.Record(w.Fail(root["alarms"][i]["actions"][j]["topic"],
                        "alarms[" + std::to_string(i) + "].actions[" +
                            std::to_string(j) + "].topic",
                        "no topic " + t + " in events.topics"));
    }
  }
  // Event destinations name topics of this server.
  std::set<std::string> topics;
  for (const auto& t : c.events.topics) {
    if (!topics.insert(t.name).second)
      w.Record(w.Fail(root["events"]["topics"], "events.topics",
                      "topic " + t.name + " is declared twice"));
  }
  for (size_t i = 0; i < c.delivery.configuration_sets.size(); ++i) {
    const auto& cs = c.delivery.configuration_sets[i];
    for (size_t j = 0; j < cs.event_destinations.size(); ++j) {
      if (!topics.count(cs.event_destinations[j].topic)) {
        w.Record(w.Fail(
            root["configuration_sets"][i]["event_destinations"][j]["topic"],
            "configuration_sets[" + std::to_string(i) +
                "].event_destinations[" + std::to_string(j) + "].topic",
            "no topic " + cs.event_destinations[j].topic +
                " in events.topics"));
      }
    }
  }
  if (!w.Errors().empty()) {
    std::string all;
    for (const auto& e : w.Errors()) all += (all.empty() ? "" : "\n") + e;
    return Error::Permanent("config", all);
  }
  return c;
}

namespace {

// A node's value whatever its style (flow or block, quoting, comments):
// maps with sorted keys, so two spellings of one value compare equal.
std::string Canonical(const YAML::Node& n) {
  if (n.IsScalar())
    return "s" + std::to_string(n.Scalar().size()) + ":" + n.Scalar();
  if (n.IsSequence()) {
    std::string out = "[";
    for (const auto& e : n) out += Canonical(e) + ",";
    return out + "]";
  }
  if (n.IsMap()) {
    std::map<std::string, std::string> sorted;
    for (const auto& kv : n) sorted[Canonical(kv.first)] = Canonical(kv.second);
    std::string out = "{";
    for (const auto& [k, v] : sorted) out += k + "=" + v + ",";
    return out + "}";
  }
  return "~";
}

}  // namespace

std::vector<std::string> ChangedKeys(const std::string& old_yaml,
                                     const std::string& new_yaml) {
  auto top = [](const std::string& text) {
    std::map<std::string, std::string> out;
    try {
      YAML::Node root = YAML::Load(text);
      if (!root.IsMap()) return out;
      for (const auto& kv : root)
        out[kv.first.as<std::string>()] = Canonical(kv.second);
    } catch (const std::exception&) {
      out["(unparsable)"] = text;
    }
    return out;
  };
  auto a = top(old_yaml), b = top(new_yaml);
  std::set<std::string> changed;
  for (const auto& [k, v] : a)
    if (!b.count(k) || b[k] != v) changed.insert(k);
  for (const auto& [k, v] : b)
    if (!a.count(k)) changed.insert(k);
  return {changed.begin(), changed.end()};
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Error::Permanent("config", path + ": cannot open file");
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseConfig(ss.str(), path);
}

}  // namespace sesame::config
