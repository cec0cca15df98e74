#include "mailauth/spf.h"

#include <optional>

#include "base/strings.h"
#include "config/config.h"

namespace sesame::mailauth {
namespace {

constexpr int kMaxDnsTerms = 10;  // RFC 7208 4.6.4
constexpr int kMaxVoidLookups = 2;

struct Budget {
  int terms = 0;
  int voids = 0;
};

struct Context {
  const std::string& ip;
  const std::string& sender;
  const std::string& helo;
  const Dns& dns;
  Budget budget;
};

std::vector<std::string> SplitSpaces(const std::string& s) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p < s.size()) {
    size_t e = s.find(' ', p);
    if (e == std::string::npos) e = s.size();
    if (e > p) out.push_back(s.substr(p, e - p));
    p = e + 1;
  }
  return out;
}

// The macros most policies use; transformers and delimiters are dropped
// (their rare forms expand to the plain value).
std::string Expand(const std::string& spec, const std::string& domain,
                   const Context& c) {
  std::string out;
  std::string local = c.sender.substr(0, c.sender.rfind('@'));
  std::string sender_domain = c.sender.substr(c.sender.rfind('@') + 1);
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] != '%' || i + 1 >= spec.size()) {
      out += spec[i];
      continue;
    }
    char n = spec[++i];
    if (n == '%')
      out += '%';
    else if (n == '_')
      out += ' ';
    else if (n == '-')
      out += "%20";
    else if (n == '{') {
      size_t close = spec.find('}', i);
      if (close == std::string::npos) return out;
      char letter = static_cast<char>(std::tolower(spec[i + 1]));
      i = close;
      switch (letter) {
        case 's':
          out += c.sender;
          break;
        case 'l':
          out += local;
          break;
        case 'o':
          out += sender_domain;
          break;
        case 'd':
          out += domain;
          break;
        case 'i':
          out += c.ip;
          break;
        case 'h':
          out += c.helo;
          break;
        default:
          break;
      }
    }
  }
  return out;
}

// "domain/cidr4//cidr6" or "/cidr4" after a or mx.
void SplitCidr(const std::string& v, std::string* target, int* v4, int* v6) {
  size_t slash = v.find('/');
  *target = v.substr(0, slash);
  if (slash == std::string::npos) return;
  std::string rest = v.substr(slash);
  size_t dbl = rest.find("//");
  std::string c4 =
      dbl == std::string::npos ? rest.substr(1) : rest.substr(1, dbl - 1);
  std::string c6 = dbl == std::string::npos ? "" : rest.substr(dbl + 2);
  if (!c4.empty()) *v4 = std::atoi(c4.c_str());
  if (!c6.empty()) *v6 = std::atoi(c6.c_str());
}

bool InNetwork(const std::string& ip, const std::string& addr, int v4, int v6) {
  bool is6 = addr.find(':') != std::string::npos;
  auto net = config::ParseNetwork(addr + "/" + std::to_string(is6 ? v6 : v4));
  return net.ok() && net->Contains(ip);
}

SpfResult Evaluate(const std::string& domain, Context& c, int depth);

// One mechanism: true when it matches; `error` set on temperror/permerror.
bool Matches(const std::string& mech, const std::string& value,
             const std::string& domain, Context& c, int depth,
             std::optional<SpfResult>* error) {
  auto count = [&]() {
    if (++c.budget.terms > kMaxDnsTerms) {
      *error = SpfResult::kPermError;
      return false;
    }
    return true;
  };
  auto lookup =
      [&](const Dns::Lookup& fn,
          const std::string& name) -> std::optional<std::vector<std::string>> {
    auto r = fn(name);
    if (!r.ok()) {
      *error = SpfResult::kTempError;
      return std::nullopt;
    }
    if (r->empty() && ++c.budget.voids > kMaxVoidLookups) {
      *error = SpfResult::kPermError;
      return std::nullopt;
    }
    return *r;
  };
  if (mech == "all") return true;
  if (mech == "ip4" || mech == "ip6") {
    auto net = config::ParseNetwork(value);
    if (!net.ok()) *error = SpfResult::kPermError;
    return net.ok() && net->Contains(c.ip);
  }
  if (mech == "include") {
    if (!count()) return false;
    SpfResult r = Evaluate(Expand(value, domain, c), c, depth + 1);
    if (r == SpfResult::kPass) return true;
    if (r == SpfResult::kTempError) *error = r;
    if (r == SpfResult::kPermError || r == SpfResult::kNone)
      *error = SpfResult::kPermError;
    return false;
  }
  if (mech == "a" || mech == "mx") {
    if (!count()) return false;
    std::string target;
    int v4 = 32, v6 = 128;
    SplitCidr(value, &target, &v4, &v6);
    target = target.empty() ? domain : Expand(target, domain, c);
    auto addrs =
        lookup(mech == "a" ? c.dns.addresses : c.dns.mx_addresses, target);
    if (!addrs) return false;
    for (const auto& a : *addrs)
      if (InNetwork(c.ip, a, v4, v6)) return true;
    return false;
  }
  if (mech == "exists") {
    if (!count()) return false;
    auto addrs = lookup(c.dns.addresses, Expand(value, domain, c));
    return addrs && !addrs->empty();
  }
  if (mech == "ptr") return count() && false;  // RFC 7208 5.5: SHOULD NOT
  *error = SpfResult::kPermError;              // an unknown mechanism
  return false;
}

SpfResult Evaluate(const std::string& domain, Context& c, int depth) {
  if (depth > kMaxDnsTerms) return SpfResult::kPermError;
  auto txt = c.dns.txt(domain);
  if (!txt.ok()) return SpfResult::kTempError;
  std::string record;
  int found = 0;
  for (const auto& t : *txt) {
    std::string low = AsciiLowerCopy(t);
    if (low == "v=spf1" || low.rfind("v=spf1 ", 0) == 0) {
      record = t;
      ++found;
    }
  }
  if (found == 0) return SpfResult::kNone;
  if (found > 1) return SpfResult::kPermError;
  std::string redirect;
  std::vector<std::string> terms = SplitSpaces(record);
  for (size_t i = 1; i < terms.size(); ++i) {
    std::string term = terms[i];
    size_t eq = term.find('=');
    size_t colon = term.find_first_of(":/");
    if (eq != std::string::npos && (colon == std::string::npos || eq < colon)) {
      std::string name = AsciiLowerCopy(term.substr(0, eq));
      if (name == "redirect") redirect = term.substr(eq + 1);
      continue;  // exp= and unknown modifiers
    }
    SpfResult on_match = SpfResult::kPass;
    switch (term[0]) {
      case '+':
        term.erase(0, 1);
        break;
      case '-':
        on_match = SpfResult::kFail;
        term.erase(0, 1);
        break;
      case '~':
        on_match = SpfResult::kSoftFail;
        term.erase(0, 1);
        break;
      case '?':
        on_match = SpfResult::kNeutral;
        term.erase(0, 1);
        break;
      default:
        break;
    }
    size_t sep = term.find_first_of(":/");
    std::string mech = AsciiLowerCopy(term.substr(0, sep));
    std::string value =
        sep == std::string::npos
            ? ""
            : (term[sep] == ':' ? term.substr(sep + 1) : term.substr(sep));
    std::optional<SpfResult> error;
    bool hit = Matches(mech, value, domain, c, depth, &error);
    if (error) return *error;
    if (hit) return on_match;
  }
  if (!redirect.empty()) {
    if (++c.budget.terms > kMaxDnsTerms) return SpfResult::kPermError;
    SpfResult r = Evaluate(Expand(redirect, domain, c), c, depth + 1);
    return r == SpfResult::kNone ? SpfResult::kPermError : r;
  }
  return SpfResult::kNeutral;
}

}  // namespace

const char* SpfResultName(SpfResult r) {
  switch (r) {
    case SpfResult::kNone:
      return "none";
    case SpfResult::kNeutral:
      return "neutral";
    case SpfResult::kPass:
      return "pass";
    case SpfResult::kFail:
      return "fail";
    case SpfResult::kSoftFail:
      return "softfail";
    case SpfResult::kTempError:
      return "temperror";
    case SpfResult::kPermError:
      return "permerror";
  }
  return "none";
}

SpfResult CheckHost(const std::string& ip, const std::string& domain,
                    const std::string& sender, const std::string& helo,
                    const Dns& dns) {
  if (domain.empty() || !dns.txt) return SpfResult::kNone;
  Context c{ip, sender, helo, dns, {}};
  return Evaluate(AsciiLowerCopy(domain), c, 0);
}

}  // namespace sesame::mailauth
