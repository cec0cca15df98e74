// /admin/* data for the dashboard and local tools, and /_aws/ses.
#include <cstdlib>
#include <limits>
#include <set>

#include "api/impl.h"

namespace sesame::api {

// Message search (/admin/messages): the outcome records of a message id
// or of a recipient address, oldest first, from the tail of
// outcomes.jsonl (the last 64 MB; at most 1,000 records).
std::string Api::Impl::MessageTimeline(const std::string& id,
                                       const std::string& recipient) {
  if (id.empty() && recipient.empty()) return "";
  std::string needle = !id.empty() ? "\"" + JsonEscape(id) + "\""
                                   : "\"" + JsonEscape(recipient) + "\"";
  std::ifstream f(config.data_dir + "/outcomes.jsonl", std::ios::binary);
  constexpr std::streamoff kTail = 64 * 1024 * 1024;
  f.seekg(0, std::ios::end);
  std::streamoff size = f.tellg();
  if (size > kTail) {
    f.seekg(size - kTail);
    std::string skip;
    std::getline(f, skip);  // a partial first line
  } else {
    f.seekg(0);
  }
  std::vector<std::string> found;
  std::string line;
  while (std::getline(f, line)) {
    if (line.find(needle) == std::string::npos) continue;
    // The id must be the messageId (or, for mail at the MX, the inbound
    // id); the address the recipient or the inbound "to".
    bool match =
        !id.empty()
            ? line.find("\"messageId\":" + needle) != std::string::npos ||
                  line.find("\"inboundMessageId\":" + needle) !=
                      std::string::npos
            : line.find("\"recipient\":" + needle) != std::string::npos ||
                  line.find("\"to\":" + needle) != std::string::npos;
    if (!match) continue;
    found.push_back(line);
    if (found.size() > 1000) found.erase(found.begin());
  }
  std::string out = "{\"records\":[";
  for (size_t i = 0; i < found.size(); ++i) out += (i ? "," : "") + found[i];
  out += "]";
  if (!id.empty()) {
    // Still queued? Its recipients' current state.
    out +=
        ",\"queued\":" + std::string(spool->Find(id).ok() ? "true" : "false");
  }
  return out + "}";
}

// Answers of services that call back from their own thread.
TextDone Api::Impl::JsonDone(std::function<void(HttpResponse)> done) {
  return [done = std::move(done)](std::string body) {
    HttpResponse r;
    r.body = std::move(body);
    done(std::move(r));
  };
}

CountDone Api::Impl::CountJsonDone(std::string field,
                                   std::function<void(HttpResponse)> done) {
  return [field = std::move(field), done = std::move(done)](int n) {
    HttpResponse r;
    r.body = "{\"" + field + "\":" + std::to_string(n) + "}";
    done(std::move(r));
  };
}

// --- LocalStack-style captured mail (/_aws/ses) ---------------------------
// Read-your-writes: a message is listed once its send has been answered
// (admission lists it before the answer; capture::Mailbox).
HttpResponse Api::Impl::AwsSes(const HttpRequest& req) {
  std::map<std::string, std::string> q = ParseForm(req.query);
  if (req.method == "DELETE") {
    mailbox->Delete(q["id"]);
    HttpResponse r;
    r.status = 204;
    return r;
  }
  json::array messages;
  for (const auto& e : mailbox->List(q["id"], q["email"])) {
    std::string raw = mailbox->Raw(e);
    json::object m;
    m["Id"] = e.id;
    m["Region"] = config.api_region;
    m["Timestamp"] = e.timestamp;
    m["Source"] = e.from;
    json::array to;
    for (const auto& d : e.destinations) to.emplace_back(d);
    json::object dest;
    dest["ToAddresses"] = std::move(to);
    m["Destination"] = dest;
    std::string subject, text, html;
    auto parsed = mime::Parse(raw);
    if (parsed.ok()) {
      subject = mime::DecodeWords(parsed->Header("Subject"));
      mime::FindBodies(*parsed, &text, &html);
    }
    m["Subject"] = subject;
    json::object body;
    body["text_part"] = text.empty() ? json::value(nullptr) : json::value(text);
    body["html_part"] = html.empty() ? json::value(nullptr) : json::value(html);
    m["Body"] = body;
    m["RawData"] = raw;
    messages.push_back(m);
  }
  json::object root;
  root["messages"] = messages;
  HttpResponse r;
  r.body = json::serialize(root);
  return r;
}

// --- dashboard data -------------------------------------------------------
// /admin/* for the dashboard (a session), local tools (the bearer token in
// <data_dir>/admin.token) and this account's keys (SigV4): the root, or an
// IAM user as its policies allow each row's action. Loopback is no
// credential: a webhook the server itself calls, or any local process,
// comes from loopback (server-side request forgery).
std::optional<Caller> Api::Impl::AdminCaller(const HttpRequest& req) {
  Caller root;
  root.who = {config.api_account_id, ""};
  root.source_ip = req.remote_ip;
  root.secure = req.secure;
  auto of_this_account =
      [&](const std::string& key_id) -> std::optional<Caller> {
    Caller c = admission::CallerForKey(*keys, key_id, config.api_account_id);
    if (!c.owner && !c.iam_user) return std::nullopt;
    c.source_ip = req.remote_ip;
    c.secure = req.secure;
    return c;
  };
  if (services.admin_session) {
    if (std::optional<std::string> login = services.admin_session(req)) {
      if (login->empty()) return root;  // the configured admin credentials
      // A session lives no longer than its key: deleted or made Inactive
      // since the login, it is refused.
      if (!keys->Lookup(*login)) return std::nullopt;
      return of_this_account(*login);
    }
  }
  std::string authz = req.Header("Authorization");
  if (authz.rfind("Bearer ", 0) == 0) {
    if (!admin_token.empty() &&
        auth::SafeEquals(TrimCopy(authz.substr(7)), admin_token))
      return root;
    return std::nullopt;
  }
  if (authz.rfind("AWS4-HMAC-SHA256 ", 0) == 0) {
    Caller caller;
    if (Authenticate(req, &caller) || (!caller.owner && !caller.iam_user))
      return std::nullopt;
    return caller;
  }
  return std::nullopt;
}

HttpResponse Api::Impl::SearchSuppression(const std::string& q,
                                          const std::string& after) {
  HttpResponse r;
  auto found = resources.suppression().Search(q, after, 100);
  if (!found.ok()) {
    r.status = 500;
    r.body = "{\"message\":\"" + JsonEscape(found.error().message()) + "\"}";
    return r;
  }
  r.body = "{\"SuppressedDestinations\":[";
  for (size_t i = 0; i < found->items.size(); ++i) {
    const ses::SuppressedDestination& d = found->items[i];
    r.body += std::string(i ? "," : "") + "{\"EmailAddress\":\"" +
              JsonEscape(d.address) + "\",\"Reason\":\"" +
              JsonEscape(d.reason) +
              "\",\"LastUpdateTime\":" + std::to_string(d.last_update) +
              ",\"Attributes\":{\"MessageId\":\"" + JsonEscape(d.message_id) +
              "\",\"FeedbackId\":\"" + JsonEscape(d.feedback_id) + "\"}}";
  }
  r.body += "],\"Next\":\"" + JsonEscape(found->next) + "\"}";
  return r;
}

// Every identity with its v2 GetEmailIdentity attributes (verification,
// DKIM, MAIL FROM status and when they were last checked).
std::string Api::Impl::IdentitiesJson() {
  std::string out = "{\"Identities\":[";
  bool first = true;
  for (const auto& id : resources.identities().Names()) {
    HttpRequest get;
    get.method = "GET";
    get.path = "/v2/email/identities/" + auth::UriEncode(id, false);
    get.target = get.path;
    auto answer = HandleV2Resources(&resources, get);
    if (!answer || answer->status != 200) continue;
    out += std::string(first ? "" : ",") + "{\"IdentityName\":\"" +
           JsonEscape(id) + "\",\"Attributes\":" + answer->body + "}";
    first = false;
  }
  return out + "]}";
}

// A domain's records, each looked up now (in parallel); answered when the
// last lookup returns.
void Api::Impl::IdentityRecords(const std::string& domain,
                                std::function<void(HttpResponse)> done) {
  HttpResponse r;
  if (domain.find('@') != std::string::npos || domain.empty() ||
      !resources.identities().Exists(domain)) {
    r.status = 404;
    r.body =
        "{\"message\":\"no such domain identity: " + JsonEscape(domain) + "\"}";
    done(std::move(r));
    return;
  }
  auto key = dkim_keys.Ensure(domain);
  if (!key.ok()) {
    r.status = 500;
    r.body = "{\"message\":\"" + JsonEscape(key.error().message()) + "\"}";
    done(std::move(r));
    return;
  }
  struct Pending {
    std::mutex mu;
    std::vector<DnsRecord> records;
    size_t left = 0;
    std::function<void(HttpResponse)> done;
    std::string domain;
  };
  auto st = std::make_shared<Pending>();
  st->records = ses::RecordsFor(domain, *key, config.hostname);
  st->left = st->records.size();
  st->done = std::move(done);
  st->domain = domain;
  auto finish = [](Pending& s) {
    HttpResponse out;
    out.body = "{\"Domain\":\"" + JsonEscape(s.domain) +
               "\",\"Records\":" + RecordsJson(s.records) + "}";
    s.done(std::move(out));
  };
  if (!services.resolve_txt) {
    finish(*st);
    return;
  }
  for (size_t i = 0; i < st->records.size(); ++i) {
    services.resolve_txt(st->records[i].name,
                         [st, i, finish](Result<std::vector<std::string>> txt) {
                           std::unique_lock lock(st->mu);
                           st->records[i].status =
                               RecordStatus(st->records[i], txt);
                           if (--st->left == 0) {
                             lock.unlock();
                             finish(*st);
                           }
                         });
  }
}

// The admin endpoints, one row each: method, path, the IAM action a caller
// needs (AdminRequest checks the credential and the action before the
// handler runs), handler. A service that is not wired (a CLI build, the
// debug hook without SESAME_DEBUG_HOOKS) answers 404.
const Router<Api::Impl::AdminHandler>& Api::Impl::AdminRoutes() {
  static const Router<AdminHandler> routes = [] {
    Router<AdminHandler> r;
    r.Gated("GET", "/admin/queues", "sesame:GetQueues", &Impl::AdminQueues);
    r.Gated("GET", "/admin/events/subscriptions",
            "sesame:GetEventSubscriptions", &Impl::AdminEventSubscriptions);
    r.Gated("GET", "/admin/reputation", "ses:GetAccount",
            &Impl::AdminReputation);
    r.Gated("GET", "/admin/suppression", "ses:ListSuppressedDestinations",
            &Impl::AdminSuppression);
    r.Gated("GET", "/admin/identities", "ses:ListEmailIdentities",
            &Impl::AdminIdentities);
    r.Gated("GET", "/admin/identities/records", "ses:GetEmailIdentity",
            &Impl::AdminIdentityRecords);
    r.Gated("GET", "/admin/messages", "sesame:SearchMessages",
            &Impl::AdminMessages);
    r.Gated("GET", "/admin/messages/search", "sesame:SearchMessages",
            &Impl::AdminSearchMessages);
    r.Gated("GET", "/admin/dlq", "sesame:ListDeadLetters",
            &Impl::AdminDeadLetters);
    r.Gated("POST", "/admin/dlq/redrive", "sesame:RedriveDeadLetters",
            &Impl::AdminRedrive);
    r.Gated("POST", "/admin/dlq/purge", "sesame:PurgeDeadLetters",
            &Impl::AdminPurge);
    r.Gated("GET", "/admin/stats", "ses:GetSendStatistics", &Impl::AdminStats);
    r.Gated("GET", "/admin/alarms", "cloudwatch:DescribeAlarms",
            &Impl::AdminAlarms);
    r.Gated("GET", "/admin/alarms/history", "cloudwatch:DescribeAlarmHistory",
            &Impl::AdminAlarmHistory);
    r.Gated("GET", "/admin/node", "sesame:GetNode", &Impl::AdminNode);
    r.Gated("POST", "/admin/node/drain", "sesame:DrainNode", &Impl::AdminDrain);
    r.Gated("POST", "/admin/node/resume", "sesame:ResumeNode",
            &Impl::AdminResume);
    r.Gated("GET", "/admin/events/dlq", "sesame:ListEventDeadLetters",
            &Impl::AdminEventDeadLetters);
    r.Gated("POST", "/admin/events/dlq/redrive",
            "sesame:RedriveEventDeadLetters", &Impl::AdminEventRedrive);
    r.Gated("POST", "/admin/debug/hold-engine", "sesame:Debug",
            &Impl::AdminHoldEngine);
    // The IAM Query API (form body, Action=...): each action authorized as
    // itself, by AdminAction.
    r.Gated("POST", "/admin/iam", "", &Impl::AdminIam);
    // Needs only a credential: what the caller may do, for the dashboard.
    r.Gated("GET", "/admin/permissions", "", &Impl::AdminPermissions);
    return r;
  }();
  return routes;
}

// The action and resource an admin request needs: a v2 resource operation's
// own (the dashboard edits through them), else its row's; an empty action
// for a row that needs none or a path that is no row (404 later).
std::pair<std::string, std::string> Api::Impl::AdminAction(
    const HttpRequest& req) const {
  if (req.path.rfind("/admin/v2/email/", 0) == 0) {
    HttpRequest inner = req;
    inner.path = req.path.substr(6);
    return V2Action(inner);
  }
  if (req.path == "/admin/iam" && req.method == "POST") {
    // The IAM Query API for the dashboard: the action's own name and
    // resource, as a signed IAM request would be authorized.
    auto form = ParseForm(req.body);
    std::string action = form["Action"];
    if (action.empty()) return {"", ""};
    return {"iam:" + action, QueryResource("iam", action, form)};
  }
  auto match = AdminRoutes().FindRest(req.method, PathSegments(req.path));
  if (!match) return {"", ""};
  std::string resource = "*";
  if (req.path == "/admin/identities/records") {
    std::string domain = AsciiLowerCopy(ParseForm(req.query)["domain"]);
    resource = Arn("ses", "identity/" + domain);
  }
  return {match->route->action, resource};
}

void Api::Impl::Admin(const HttpRequest& req, const Caller& caller,
                      std::function<void(HttpResponse)> done) {
  AdminCall call{req, ParseForm(req.query), std::move(done), caller};
  // The dashboard edits resources (suppression list, identities) through
  // the v2 operations (Handle authorized them as such).
  if (req.path.rfind("/admin/v2/email/", 0) == 0) {
    AdminV2Resources(call);
    return;
  }
  auto match = AdminRoutes().FindRest(req.method, PathSegments(req.path));
  if (!match) {
    HttpResponse r;
    r.status = 404;
    r.body =
        "{\"message\":\"not found: " + JsonEscape(req.method + " " + req.path) +
        "\"}";
    call.done(std::move(r));
    return;
  }
  (this->*(match->route->handler))(call);
}

// Which of the dashboard's actions the caller may perform, so the page
// shows only the buttons that would work (the server checks each request
// regardless). Evaluated on "*": a policy scoped to some resources shows
// the button, and the request itself decides.
void Api::Impl::AdminPermissions(AdminCall& c) {
  // The edits the page makes through /admin/v2/email/..., and the reads.
  std::set<std::string> actions = {"ses:PutSuppressedDestination",
                                   "ses:DeleteSuppressedDestination",
                                   "ses:CreateEmailIdentity",
                                   "ses:DeleteEmailIdentity",
                                   "ses:ListConfigurationSets",
                                   "ses:GetConfigurationSet",
                                   "ses:PutConfigurationSetSendingOptions",
                                   "ses:CreateConfigurationSet",
                                   "ses:DeleteConfigurationSet",
                                   "ses:ListEmailTemplates",
                                   "ses:GetEmailTemplate",
                                   "ses:CreateEmailTemplate",
                                   "ses:UpdateEmailTemplate",
                                   "iam:ListAccessKeys",
                                   "iam:CreateAccessKey",
                                   "iam:UpdateAccessKey",
                                   "iam:DeleteAccessKey"};
  for (const auto& row : AdminRoutes().Rows()) {
    size_t space = row.find(' ');
    HttpRequest probe;
    probe.method = row.substr(0, space);
    probe.path = row.substr(space + 1);
    auto match = AdminRoutes().FindRest(probe.method, PathSegments(probe.path));
    if (match && !match->route->action.empty())
      actions.insert(match->route->action);
  }
  json::object allowed;
  for (const auto& a : actions) allowed[a] = Allowed(c.caller, c.req, a, "*");
  json::object o;
  o["Principal"] = c.caller.owner ? "root" : c.caller.who.Arn();
  o["Allowed"] = std::move(allowed);
  c.Json(json::serialize(o));
}

void Api::Impl::NotWired(AdminCall& c) {
  HttpResponse r;
  r.status = 404;
  r.body = "{\"message\":\"not available in this server\"}";
  c.done(std::move(r));
}

// /admin/v2/email/...: the SESv2 operation of the same path, as the
// session's caller (AdminRequest authorized its action): the resource
// operations, and the other owner operations (TestRenderEmailTemplate,
// GetAccount). Sends are not served here: they go through the API.
void Api::Impl::AdminV2Resources(AdminCall& c) {
  auto inner = std::make_shared<HttpRequest>(c.req);
  inner->path = c.req.path.substr(6);
  inner->target = c.req.target.substr(6);
  if (auto match =
          V2Routes().FindRest(inner->method, PathSegments(inner->path));
      match && match->route->owner_only) {
    V2Call call{*inner, c.caller, std::move(match->params),
                [inner, done = std::move(c.done)](HttpResponse r) {
                  done(std::move(r));
                }};
    (this->*(match->route->handler))(call);
    return;
  }
  if (auto answer = HandleV2Resources(&resources, *inner)) {
    c.done(std::move(*answer));
    return;
  }
  HttpResponse r;
  r.status = 404;
  r.body = "{\"message\":\"not a resource operation\"}";
  c.done(std::move(r));
}

void Api::Impl::AdminQueues(AdminCall& c) {
  if (!services.queues_json) return NotWired(c);
  services.queues_json(JsonDone(std::move(c.done)));
}

void Api::Impl::AdminEventSubscriptions(AdminCall& c) {
  if (!services.event_subscriptions_json) return NotWired(c);
  services.event_subscriptions_json(JsonDone(std::move(c.done)));
}

void Api::Impl::AdminReputation(AdminCall& c) {
  if (!services.reputation_json) return NotWired(c);
  c.Json(services.reputation_json());
}

void Api::Impl::AdminSuppression(AdminCall& c) {
  c.done(SearchSuppression(c.param("q"), c.param("after")));
}

void Api::Impl::AdminIdentities(AdminCall& c) { c.Json(IdentitiesJson()); }

void Api::Impl::AdminIdentityRecords(AdminCall& c) {
  IdentityRecords(AsciiLowerCopy(c.param("domain")), std::move(c.done));
}

void Api::Impl::AdminMessages(AdminCall& c) {
  std::string body = MessageTimeline(c.param("id"), c.param("recipient"));
  if (!body.empty()) return c.Json(std::move(body));
  HttpResponse r;
  r.status = 400;
  r.body = "{\"message\":\"give id or recipient\"}";
  c.done(std::move(r));
}

namespace {

bool ContainsFolded(std::string_view haystack,
                    const std::string& lower_needle) {
  return lower_needle.empty() ||
         AsciiLowerCopy(haystack).find(lower_needle) != std::string::npos;
}

}  // namespace

// Message search by sender, recipient, subject and time over the sent
// index, newest first, 50 a page: ?from=&to=&subject= (substrings, any
// case; from and to match the envelope and the headers), since= and until=
// (epoch milliseconds), cursor= (the previous page's Next). Each message
// comes with its header block, for the detail view.
void Api::Impl::AdminSearchMessages(AdminCall& c) {
  if (!services.search_sent) return NotWired(c);
  std::string from = AsciiLowerCopy(c.param("from")),
              to = AsciiLowerCopy(c.param("to")),
              subject = AsciiLowerCopy(c.param("subject"));
  int64_t since = std::atoll(c.param("since").c_str());
  int64_t until = c.param("until").empty()
                      ? std::numeric_limits<int64_t>::max()
                      : std::atoll(c.param("until").c_str());
  struct Parsed {
    std::vector<std::pair<std::string, std::string>> headers;
    std::string Get(const char* name) const {
      for (const auto& [k, v] : headers)
        if (AsciiLowerCopy(k) == name) return mime::DecodeWords(v);
      return "";
    }
  };
  auto parse = [](const Services::SentMessage& m) {
    Parsed p;
    if (auto part = mime::Parse(m.header_block + "\r\n"); part.ok())
      p.headers = part->headers;
    return p;
  };
  auto page = services.search_sent(
      since, until, c.param("cursor"), 50, [&](const Services::SentMessage& m) {
        Parsed p = parse(m);
        std::string rcpts;
        for (const auto& r : m.recipients) rcpts += r + " ";
        return ContainsFolded(m.mail_from + " " + p.Get("from"), from) &&
               ContainsFolded(rcpts + p.Get("to") + " " + p.Get("cc"), to) &&
               ContainsFolded(p.Get("subject"), subject);
      });
  json::array out;
  for (const auto& m : page.items) {
    Parsed p = parse(m);
    json::array rcpts, headers;
    for (const auto& r : m.recipients) rcpts.push_back(json::value(r));
    for (const auto& [k, v] : p.headers) headers.push_back({k, v});
    out.push_back(json::object{{"MessageId", m.id},
                               {"CreatedAt", IsoTime(m.created_ms)},
                               {"MailFrom", m.mail_from},
                               {"From", p.Get("from")},
                               {"Recipients", std::move(rcpts)},
                               {"Subject", p.Get("subject")},
                               {"ConfigurationSet", m.config_set},
                               {"Headers", std::move(headers)}});
  }
  c.Json(json::serialize(
      json::object{{"Messages", std::move(out)}, {"Next", page.next}}));
}

// The dashboard's access keys page: IAM's own operations, answered in
// IAM's XML. A new key's answer also carries its SES SMTP password
// (SmtpPassword), shown once with the secret.
void Api::Impl::AdminIam(AdminCall& c) {
  auto form = ParseForm(c.req.body);
  std::string action = form["Action"];
  if (action.empty()) {
    HttpResponse r;
    r.status = 400;
    r.body = "{\"message\":\"give Action=<an IAM operation>\"}";
    return c.done(std::move(r));
  }
  HttpResponse r = Iam(c.caller, action, form);
  if (action == "CreateAccessKey" && r.status == 200) {
    const std::string open = "<SecretAccessKey>", close = "</SecretAccessKey>";
    size_t a = r.body.find(open), b = r.body.find(close);
    if (a != std::string::npos && b != std::string::npos && b > a) {
      std::string secret = r.body.substr(a + open.size(), b - a - open.size());
      r.body.insert(b + close.size(),
                    "<SmtpPassword>" +
                        auth::SmtpPassword(secret, config.api_region) +
                        "</SmtpPassword>");
    }
  }
  c.done(std::move(r));
}

void Api::Impl::AdminDeadLetters(AdminCall& c) {
  if (!services.dead_letters_json) return NotWired(c);
  services.dead_letters_json(JsonDone(std::move(c.done)));
}

void Api::Impl::AdminRedrive(AdminCall& c) {
  if (!services.redrive) return NotWired(c);
  services.redrive(c.param("id"), CountJsonDone("Redriven", std::move(c.done)));
}

void Api::Impl::AdminPurge(AdminCall& c) {
  if (!services.purge) return NotWired(c);
  services.purge(c.param("id"), CountJsonDone("Purged", std::move(c.done)));
}

void Api::Impl::AdminStats(AdminCall& c) {
  if (!services.statistics_json) return NotWired(c);
  c.Json(services.statistics_json(c.param("resolution"), c.param("scope")));
}

void Api::Impl::AdminAlarms(AdminCall& c) {
  if (!services.alarms_json) return NotWired(c);
  c.Json(services.alarms_json());
}

void Api::Impl::AdminNode(AdminCall& c) {
  if (!services.node_json) return NotWired(c);
  c.Json(services.node_json());
}

// Drain: new sends are refused (transiently) and /ready fails, so a load
// balancer takes the node out; the queue is still delivered. Resume ends it.
void Api::Impl::AdminDrain(AdminCall& c) { SetDraining(c, true); }
void Api::Impl::AdminResume(AdminCall& c) { SetDraining(c, false); }

void Api::Impl::SetDraining(AdminCall& c, bool draining) {
  if (!services.set_draining || !services.node_json) return NotWired(c);
  if (Status s = services.set_draining(draining); !s.ok())
    return c.Json("{\"message\":\"" + JsonEscape(s.error().message()) + "\"}",
                  500);
  c.Json(services.node_json());
}

void Api::Impl::AdminAlarmHistory(AdminCall& c) {
  if (!services.alarm_history_json) return NotWired(c);
  c.Json(services.alarm_history_json());
}

void Api::Impl::AdminEventDeadLetters(AdminCall& c) {
  if (!services.event_dead_letters_json) return NotWired(c);
  services.event_dead_letters_json(JsonDone(std::move(c.done)));
}

void Api::Impl::AdminEventRedrive(AdminCall& c) {
  if (!services.event_redrive) return NotWired(c);
  services.event_redrive(c.param("subscription"),
                         CountJsonDone("Redriven", std::move(c.done)));
}

void Api::Impl::AdminHoldEngine(AdminCall& c) {
  if (!services.hold_engine) return NotWired(c);
  services.hold_engine(std::atoi(c.param("ms").c_str()));
  c.Json("{}");
}

}  // namespace sesame::api
