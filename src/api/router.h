#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sesame::api {

// The API's route table, in the manner of Postfix's smtpd_cmd_table: each
// operation is one row — how a request is recognised (a v1 Query Action,
// or a REST method and path pattern), whether only owner keys may call it
// (keys of other accounts only send, under sending authorization), and the
// handler. Adding an operation is one row and one function.
//
// Built once at start, then read-only: thread-safe for lookups.
template <typename Handler>
class Router {
 public:
  struct Route {
    bool owner_only = true;
    Handler handler{};
    // The members SES's model marks required (v1 Query names): a request
    // without one is refused before the handler runs.
    std::vector<std::string> required;
    // The IAM action a caller needs (the admin API's rows; the SES and SNS
    // rows derive theirs from the operation, in api/authorize.cc).
    std::string action;
  };
  struct Match {
    const Route* route;
    std::vector<std::string> params;  // the pattern's {name} segments
  };

  // v1: Action=<action>, with its required members.
  void Action(std::string action, bool owner_only, Handler h,
              std::vector<std::string> required = {}) {
    actions_[std::move(action)] = Route{owner_only, h, std::move(required), {}};
  }
  // REST: "/v2/email/templates/{name}/render"; {x} matches one segment.
  void Rest(std::string method, const std::string& pattern, bool owner_only,
            Handler h) {
    rest_.push_back(
        {std::move(method), Split(pattern), Route{owner_only, h, {}, {}}});
  }

  // REST, gated by an IAM action ("sesame:ListDeadLetters") instead of
  // owner-only: the admin API, which IAM users may call as policies allow.
  void Gated(std::string method, const std::string& pattern, std::string action,
             Handler h) {
    rest_.push_back({std::move(method), Split(pattern),
                     Route{false, h, {}, std::move(action)}});
  }

  // One line per row, for the coverage table (docs/ses-api.md): the
  // Action's name, or "METHOD /pattern".
  std::vector<std::string> Rows() const {
    std::vector<std::string> out;
    for (const auto& [action, route] : actions_) out.push_back(action);
    for (const auto& r : rest_) {
      std::string row = r.method + " ";
      for (const auto& seg : r.pattern) row += "/" + seg;
      out.push_back(row);
    }
    return out;
  }

  // The first required member `form` lacks, or "". A structure or list
  // member is present when any of its fields is ("Message.Subject.Data",
  // "Identities.member.1") or it is given empty ("Identities=").
  static std::string MissingMember(
      const Route& route, const std::map<std::string, std::string>& form) {
    for (const auto& m : route.required) {
      auto it = form.lower_bound(m);
      bool present = it != form.end() &&
                     (it->first == m || it->first.rfind(m + ".", 0) == 0);
      if (!present) return m;
    }
    return "";
  }

  const Route* FindAction(const std::string& action) const {
    auto it = actions_.find(action);
    return it == actions_.end() ? nullptr : &it->second;
  }
  // `segments`: the percent-decoded path segments ("v2","email",...).
  std::optional<Match> FindRest(
      const std::string& method,
      const std::vector<std::string>& segments) const {
    for (const auto& r : rest_) {
      if (r.method != method || r.pattern.size() != segments.size()) continue;
      Match m{&r.route, {}};
      bool ok = true;
      for (size_t i = 0; ok && i < segments.size(); ++i) {
        const std::string& p = r.pattern[i];
        if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
          m.params.push_back(segments[i]);
        } else {
          ok = p == segments[i];
        }
      }
      if (ok) return m;
    }
    return std::nullopt;
  }

 private:
  static std::vector<std::string> Split(const std::string& pattern) {
    std::vector<std::string> out;
    size_t start = 1;
    while (start <= pattern.size()) {
      size_t slash = pattern.find('/', start);
      std::string seg =
          pattern.substr(start, slash == std::string::npos ? std::string::npos
                                                           : slash - start);
      if (!seg.empty()) out.push_back(seg);
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    return out;
  }
  struct RestRoute {
    std::string method;
    std::vector<std::string> pattern;
    Route route;
  };
  std::map<std::string, Route> actions_;
  std::vector<RestRoute> rest_;
};

}  // namespace sesame::api
