// sesame: the daemon (`serve`) and the command-line tools.
#include <netdb.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <future>
#include <iostream>
#include <iterator>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "admission/admission.h"
#include "api/api.h"
#include "app/cli_help.h"
#include "app/feedback_cli.h"
#include "app/node.h"
#include "app/services.h"
#include "app/suppression_cli.h"
#include "auth/keys.h"
#include "auth/policy.h"
#include "auth/quota.h"
#include "auth/sigv4.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/thread_pool.h"
#include "capture/mailbox.h"
#include "cluster/limits.h"
#include "cluster/quota.h"
#include "config/config.h"
#include "dashboard/dashboard.h"
#include "delivery/engine.h"
#include "dns/resolver.h"
#include "events/destinations.h"
#include "events/fanout.h"
#include "events/publisher.h"
#include "events/sns_api.h"
#include "feedback/classifier.h"
#include "inbound/processor.h"
#include "metrics/registry.h"
#include "mime/mime.h"
#include "net/server.h"
#include "net/tls.h"
#include "ses/dkim_keys.h"
#include "ses/dns_records.h"
#include "ses/verifier.h"
#include "spool/spool.h"
#include "stats/alarms.h"
#include "stats/cluster_sync.h"
#include "stats/report.h"
#include "stats/stats.h"
#include "store/postgres_store.h"
#include "store/snapshot_store.h"
#include "store/store.h"

namespace sesame {
namespace {

struct Args {
  std::vector<std::string> positional;
  std::string config_path;
  std::string data_dir;
  bool json = false;
  bool all = false;
  bool wait = false;          // node drain --wait
  bool prepare = false;       // keys rotate-master --prepare
  bool retire = false;        // keys rotate-master --retire-previous
  bool help = false;          // --help / -h: the command's page
  bool version = false;       // --version
  std::string account, user;  // keys create
};

Result<Args> ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto value = [&](std::string* out) -> Status {
      if (i + 1 >= argc) return Error::Permanent("usage", s + " needs a value");
      *out = argv[++i];
      return Ok{};
    };
    if (s == "--config" || s == "-c") {
      Status st = value(&a.config_path);
      if (!st.ok()) return st.error();
    } else if (s.rfind("--config=", 0) == 0) {
      a.config_path = s.substr(9);
    } else if (s == "--data-dir") {
      Status st = value(&a.data_dir);
      if (!st.ok()) return st.error();
    } else if (s == "--account" || s == "--user") {
      Status st = value(s == "--account" ? &a.account : &a.user);
      if (!st.ok()) return st.error();
    } else if (s == "--json") {
      a.json = true;
    } else if (s == "--all") {
      a.all = true;
    } else if (s == "--wait") {
      a.wait = true;
    } else if (s == "--prepare") {
      a.prepare = true;
    } else if (s == "--retire-previous") {
      a.retire = true;
    } else if (s == "-h" || s == "--help") {
      a.help = true;
    } else if (s == "--version" || s == "-V") {
      a.version = true;
    } else if (!s.empty() && s[0] == '-') {
      return Error::Permanent("usage", "unknown option " + s);
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

Result<config::Config> LoadConfig(const Args& args) {
  if (args.config_path.empty()) return config::LocalProfile();
  return config::LoadConfigFile(args.config_path);
}

// The configuration, or nullopt after printing why it cannot be loaded (the
// caller exits with status 2).
std::optional<config::Config> ConfigOrReport(const Args& args) {
  auto cfg = LoadConfig(args);
  if (!cfg.ok()) {
    std::fprintf(stderr, "sesame: %s\n", cfg.error().message().c_str());
    return std::nullopt;
  }
  return std::move(*cfg);
}

void ApplyLogLevel(const config::Config& c) {
  SetLogJson(c.log_format == "json");
  SetLogLevel(c.log_level == "debug"   ? LogLevel::kDebug
              : c.log_level == "warn"  ? LogLevel::kWarn
              : c.log_level == "error" ? LogLevel::kError
                                       : LogLevel::kInfo);
}

std::string ReadText(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// SIGHUP (systemd's reload): the configuration file read again. Applied
// live: log_level and log_format, and the listeners' TLS certificate and
// key (read again even when their paths did not change: certbot renews the
// files in place). Every other top-level key that differs from the file the
// server started with is named, to be applied by a restart. A file that
// does not load changes nothing.
void Reload(const Args& args, const std::string& started_text,
            net::Server& server) {
  config::Config next = config::LocalProfile();
  if (!args.config_path.empty()) {
    auto loaded = config::LoadConfigFile(args.config_path);
    if (!loaded.ok()) {
      SESAME_LOG(kError, "main")
          << "SIGHUP: configuration not reloaded: " << loaded.error().message();
      return;
    }
    next = std::move(*loaded);
  }
  ApplyLogLevel(next);
  if (Status st = server.ReloadCertificates(next.CertFile(), next.KeyFile());
      !st.ok())
    SESAME_LOG(kError, "main") << "SIGHUP: " << st.error().message()
                               << "; the current certificate stays";
  std::string restart;
  if (!args.config_path.empty()) {
    for (const auto& key :
         config::ChangedKeys(started_text, ReadText(args.config_path)))
      if (key != "log_level" && key != "log_format" && key != "tls")
        restart += (restart.empty() ? "" : ", ") + key;
  }
  if (restart.empty()) {
    SESAME_LOG(kInfo, "main") << "SIGHUP: configuration reloaded";
  } else {
    SESAME_LOG(kWarn, "main")
        << "SIGHUP: configuration reloaded; changed, applied after a "
           "restart: "
        << restart;
  }
}

// Every connection, spool segment and webhook needs a descriptor, and the
// default soft limit (1024) is far below what the connection limits allow:
// raise the soft limit to the hard one (and the hard one too, when allowed).
void RaiseFileLimit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlimit want = rl;
  want.rlim_cur = want.rlim_max = std::max<rlim_t>(rl.rlim_max, 1 << 16);
  if (::setrlimit(RLIMIT_NOFILE, &want) != 0) {
    want.rlim_cur = want.rlim_max = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &want) != 0) return;
  }
  SESAME_LOG(kInfo, "main") << "open file limit " << want.rlim_cur;
}

// This node's name in the cluster (Redis heartbeats, lease owners, node
// list): kept in <data_dir>/node-id, so it survives restarts and follows
// the data directory to another machine; made from the host name and 32
// random bits on first start.
std::string NodeId(const std::string& data_dir) {
  auto blob = FileBlob(data_dir + "/node-id");
  if (auto text = blob->ReadIfChanged();
      text.ok() && *text && !(*text)->empty())
    return TrimCopy(**text, " \t\r\n");
  char host[256] = "node";
  gethostname(host, sizeof host - 1);
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "-%08x",
                static_cast<unsigned>(std::random_device{}()));
  std::string id = std::string(host) + suffix;
  if (Status st = blob->Write(id + "\n"); !st.ok())
    SESAME_LOG(kWarn, "cluster")
        << "cannot keep the node id: " << st.error().message();
  return id;
}

// Where the access keys and IAM state live: files in the data directory on
// one node (so `sesame keys create` beside a running server is seen at
// once); with a shared store its "blob" documents, so every node enforces
// the same keys and policies (a key revoked on one is refused by all).
struct Credentials {
  std::unique_ptr<store::Store> opened;  // a CLI command's own connection
  std::unique_ptr<auth::KeyStore> keys;
  std::unique_ptr<auth::IamStore> iam;
};

// `state`: the server's store (its snapshot, and `fresh`, the backend
// behind it, for reads past it); null for a CLI command, which opens the
// shared store itself when there is one.
Result<Credentials> OpenCredentials(const config::Config& c,
                                    store::Store* state,
                                    store::Store* fresh = nullptr) {
  Credentials out;
  const bool shared = c.store_backend == "postgres";
  if (shared && !state) {
    auto opened = store::Store::Open(c.store_backend, "", c.store_dsn);
    if (!opened.ok()) return opened.error();
    out.opened = std::move(*opened);
    state = out.opened.get();
  }
  out.keys = std::make_unique<auth::KeyStore>(
      shared ? store::DocumentBlob(state, "access-keys", fresh)
             : FileBlob(c.AccessKeysFile()),
      c.MasterKeyFile());
  out.iam = std::make_unique<auth::IamStore>(
      shared ? store::DocumentBlob(state, "iam", fresh) : FileBlob(c.IamFile()),
      c.api_account_id);
  return out;
}

// The development key of the local profile: its oldest owner key.
std::optional<auth::AccessKey> DevKey(auth::KeyStore* keys) {
  auto list = keys->List();
  if (!list.ok()) return std::nullopt;
  for (const auto& k : *list) {
    if (!k.account.empty() || !k.user.empty() || !k.active) continue;
    auth::AccessKey out = k;
    auto secret = keys->Lookup(k.id);
    if (!secret) return std::nullopt;
    out.secret = *secret;
    return out;
  }
  return std::nullopt;
}

// The start banner's next steps: commands that work when pasted as printed.
// Secrets appear only for the local profile's development key and users;
// a production configuration's passwords are never echoed.
void PrintFirstSteps(const config::Config& c, const Args& args,
                     const std::optional<auth::AccessKey>& dev_key,
                     const std::string& smtp_port,
                     const std::string& http_port) {
  bool local = c.profile == "local";
  std::string host = c.smtp.address == "0.0.0.0" ? "127.0.0.1" : c.smtp.address;
  if (dev_key) {
    std::printf(
        "\nDevelopment access key (SES v1/v2 APIs, the dashboard's login; "
        "`sesame keys show-dev` shows it again):\n"
        "  export AWS_ACCESS_KEY_ID=%s\n"
        "  export AWS_SECRET_ACCESS_KEY=%s\n"
        "  export AWS_REGION=%s\n"
        "SES SMTP credentials of this key: username %s, password %s\n",
        dev_key->id.c_str(), dev_key->secret.c_str(), c.api_region.c_str(),
        dev_key->id.c_str(),
        auth::SmtpPassword(dev_key->secret, c.api_region).c_str());
    if (!http_port.empty()) {
      std::printf(
          "  aws sesv2 send-email --endpoint-url http://127.0.0.1:%s "
          "--region %s \\\n"
          "    --from-email-address you@example.com --destination "
          "ToAddresses=someone@example.com \\\n"
          "    --content "
          "'Simple={Subject={Data=hi},Body={Text={Data=hello}}}'\n",
          http_port.c_str(), c.api_region.c_str());
      if (c.dashboard_enabled)
        std::printf(
            "Dashboard: http://127.0.0.1:%s/ (log in with the key's "
            "id and secret)\n",
            http_port.c_str());
    }
  }
  if (!smtp_port.empty() && !c.smtp_users.empty()) {
    std::printf(
        "\nSend a first message:\n  swaks --server %s:%s --tls --auth-user "
        "%s --auth-password '%s' \\\n"
        "    --from you@example.com --to someone@example.com\n",
        host.c_str(), smtp_port.c_str(), c.smtp_users[0].username.c_str(),
        local ? c.smtp_users[0].password.c_str()
              : "<smtp.users[0].password from the configuration>");
  }
  if (c.delivery.mode == "capture" && !http_port.empty()) {
    std::printf(
        "Then see it captured (capture mode delivers nothing):\n"
        "  curl http://127.0.0.1:%s/_aws/ses\n\n",
        http_port.c_str());
  } else if (!smtp_port.empty()) {
    std::printf("Then see it queued:\n  build/sesame queue list%s%s\n\n",
                args.config_path.empty() ? "" : " --config ",
                args.config_path.c_str());
  }
}

int Serve(const Args& args) {
  auto cfg = ConfigOrReport(args);
  if (!cfg) return 1;  // a start-up failure, like a taken port
  const config::Config& c = *cfg;
  // What SIGHUP compares a changed file with.
  const std::string started_text =
      args.config_path.empty() ? "" : ReadText(args.config_path);
  ApplyLogLevel(c);
  RaiseFileLimit();

  // Signals: handled by one thread with sigwait; never in an event loop.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);  // systemd's reload: never the default (exit)
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGXFSZ,
           SIG_IGN);  // a file-size limit must surface as EFBIG, i.e. 452

  std::string mkdir_err;
  if (::mkdir(c.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "sesame: cannot create data_dir %s: %s\n",
                 c.data_dir.c_str(), std::strerror(errno));
    return 1;
  }
  Status tls =
      net::EnsureSelfSignedCertificate(c.CertFile(), c.KeyFile(), c.hostname);
  if (!tls.ok()) {
    std::fprintf(stderr, "sesame: %s\n", tls.error().message().c_str());
    return 1;
  }
  spool::SpoolOptions so;
  so.dir = c.data_dir + "/spool";
  so.sync = c.spool_sync;
  so.segment_bytes = c.spool_segment_bytes;
  so.min_free_bytes = c.spool_min_free_bytes;
  auto sp = spool::Spool::Open(so);
  if (!sp.ok()) {
    std::fprintf(stderr, "sesame: spool: %s\n", sp.error().message().c_str());
    return 1;
  }
  const auto& rec = (*sp)->recovery();
  SESAME_LOG(kInfo, "spool")
      << "recovered " << rec.messages << " queued messages from "
      << rec.segments << " segments (" << rec.quarantined
      << " corrupt regions quarantined, " << rec.torn_tails
      << " incomplete tails discarded)";

  dns::ResolverOptions ro;
  ro.servers = c.delivery.resolver;
  auto resolver = dns::Resolver::Create(ro);
  if (!resolver.ok()) {
    std::fprintf(stderr, "sesame: %s\n", resolver.error().message().c_str());
    return 1;
  }
  // VERP tokens are sealed with a key derived from the current master key;
  // the file's other keys still verify tokens sealed before a rotation.
  std::string verp_key;
  std::vector<std::string> earlier_verp_keys;
  if (!c.delivery.verp_domain.empty()) {
    auto master = auth::LoadMasterKeys(c.MasterKeyFile(), true);
    if (!master.ok()) {
      std::fprintf(stderr, "sesame: %s\n", master.error().message().c_str());
      return 1;
    }
    verp_key = auth::HmacSha256(master->front(), "sesame-verp");
    for (size_t i = 1; i < master->size(); ++i)
      earlier_verp_keys.push_back(
          auth::HmacSha256((*master)[i], "sesame-verp"));
  }
  delivery::Engine engine(c, sp->get(), resolver->get(), verp_key);
  // Feedback counters for /metrics (bounded labels: SES bounce types).
  // Sending statistics (two weeks per minute), reputation and alarms.
  stats::ReputationOptions ro_rep;
  ro_rep.window_ms = int64_t(c.reputation.window_hours) * 3600 * 1000;
  ro_rep.min_sends = c.reputation.min_sends;
  ro_rep.probation_bounce = c.reputation.probation_bounce_rate;
  ro_rep.shutdown_bounce = c.reputation.shutdown_bounce_rate;
  ro_rep.probation_complaint = c.reputation.probation_complaint_rate;
  ro_rep.shutdown_complaint = c.reputation.shutdown_complaint_rate;
  stats::Stats sending_stats(ro_rep);
  std::string stats_path = c.data_dir + "/stats.json";
  if (Status ls = sending_stats.Load(stats_path); !ls.ok()) {
    std::fprintf(stderr, "sesame: %s\n", ls.error().message().c_str());
    return 1;
  }
  // /metrics: every module registers its families in one registry (as each
  // is built); rendering visits the thread-owned ones on their threads, so
  // no network loop waits.
  metrics::Registry registry;
  (*sp)->RegisterMetrics(&registry);
  engine.RegisterMetrics(&registry);
  // The state store, with the documents every send reads held in memory:
  // no event loop waits on SQLite (the suppression list, which may be
  // large, is read through the backend's own reader connection).
  auto backend = store::Store::Open(c.store_backend, c.data_dir + "/state.db",
                                    c.store_dsn);
  if (!backend.ok()) {
    std::fprintf(stderr, "sesame: %s\n", backend.error().message().c_str());
    return 1;
  }
  auto state = store::SnapshotStore::Wrap(
      std::move(*backend),
      {"account", "identity", "configuration-set", "dkim", "template", "paused",
       "tags", "ip-pool", "receipt", "receipt-rule-set", "receipt-filter",
       "dedicated-ip", "blob"},
      {"suppressed"});  // shared store: a Bloom filter of the list's names
  if (!state.ok()) {
    std::fprintf(stderr, "sesame: %s\n", state.error().message().c_str());
    return 1;
  }
  auto creds = OpenCredentials(c, state->get(), (*state)->backend());
  if (!creds.ok()) {
    std::fprintf(stderr, "sesame: %s\n", creds.error().message().c_str());
    return 1;
  }
  auth::KeyStore& keys = *creds->keys;
  auth::IamStore& iam = *creds->iam;
  // The local profile's development key: created on the first start, and
  // shown (secret included) on every start, so a restart never loses the
  // dashboard login. Never on production: there, `sesame keys create`.
  std::optional<auth::AccessKey> dev_key;
  if (c.profile == "local") {
    auto existing = keys.List();
    if (existing.ok() && existing->empty()) {
      if (auto k = keys.Create(); k.ok()) dev_key = *k;
    } else if (auto k = DevKey(&keys); k) {
      dev_key = *k;
    }
  }
  // The account's quota: this node's, or with redis.address the cluster's,
  // with every site's shaping (RedisLimits) shared by the nodes too.
  const std::string node_id = NodeId(c.data_dir);
  std::unique_ptr<auth::SendQuota> quota;
  std::unique_ptr<cluster::RedisLimits> redis_limits;
  if (!c.redis_host.empty()) {
    redis_limits = std::make_unique<cluster::RedisLimits>(
        c.redis_host, c.redis_port, node_id,
        static_cast<int>(c.redis_lease_seconds));
    quota = std::make_unique<cluster::ClusterQuota>(
        redis_limits.get(), c.api_account_id, c.quota_max_send_rate,
        c.quota_max_24_hour_send);
    redis_limits->RegisterMetrics(&registry);
    redis_limits->Start();
    engine.SetSharedLimits(redis_limits.get());
  } else {
    quota = std::make_unique<auth::Quota>(c.quota_max_send_rate,
                                          c.quota_max_24_hour_send);
  }
  // The SES domain, and the one way mail enters (every front end and the
  // engine's own DSNs go through admission).
  ses::DkimKeys dkim_keys(state->get(), c.MasterKeyFile(), c.dkim_ed25519);
  ses::Resources resources(state->get(), c.api_auto_verify, &dkim_keys);
  resources.ip_pools().SetAddresses(c.delivery.dedicated_ips);
  resources.identities().SetArnPrefix("arn:aws:ses:" + c.api_region + ":" +
                                      c.api_account_id + ":identity/");
  capture::Mailbox mailbox(c.data_dir + "/mailbox", sp->get());
  ThreadPool signing_pool(c.dkim_signing_threads);  // DKIM, off the loops
  admission::Admission::Options adm_opts;
  adm_opts.account_id = c.api_account_id;
  adm_opts.region = c.api_region;
  adm_opts.sandbox = c.api_sandbox;
  adm_opts.auto_verify = c.api_auto_verify;
  adm_opts.store_outage_grace_ms = int64_t(c.store_outage_grace_seconds) * 1000;
  const bool capture_mode = c.delivery.mode == "capture";
  admission::Admission admission(
      adm_opts, sp->get(), &resources, &dkim_keys, &keys, &iam, quota.get(),
      capture_mode ? &mailbox : nullptr, &signing_pool);
  // Retired outbound messages, for feedback arriving after they left the
  // queue (7 days).
  delivery::SentIndex sent_index;
  if (Status s =
          sent_index.Open(c.data_dir + "/sent.db", 7 * 24 * 3600 * 1000LL);
      !s.ok())
    SESAME_LOG(kWarn, "delivery")
        << "late feedback will not be mapped to its configuration set: "
        << s.error().message();
  engine.SetOutputs(&admission, &mailbox, &sent_index);
  // The web dashboard: this account's keys (the root's, IAM users') or the
  // configured admin log in; each admin request is then authorized.
  dashboard::Options dash_opts;
  dash_opts.admin_user = c.dashboard_admin_user;
  dash_opts.admin_password = c.dashboard_admin_password;
  dash_opts.session_ms = int64_t(c.dashboard_session_hours) * 3600 * 1000;
  dash_opts.local_mailbox = c.api_local_mailbox;
  dash_opts.hostname = c.hostname;
  dashboard::Dashboard dashboard(
      dash_opts, [&keys, &c](const std::string& id, const std::string& secret) {
        auto stored = keys.Lookup(id);
        if (!stored || !auth::SafeEquals(*stored, secret)) return false;
        std::string account = keys.AccountOf(id).first;
        return account.empty() || account == c.api_account_id;
      });
  // The feedback loop: hard bounces and complaints join the suppression
  // list; suppressed recipients are not delivered.
  feedback::Classifier classifier = feedback::Classifier::Default();
  if (!c.feedback_rules_file.empty()) {
    std::ifstream rf(c.feedback_rules_file);
    std::string text((std::istreambuf_iterator<char>(rf)), {});
    auto extra = feedback::Classifier::Parse(text, c.feedback_rules_file);
    if (!rf || !extra.ok()) {
      std::fprintf(stderr, "sesame: feedback.rules_file: %s\n",
                   rf ? extra.error().message().c_str()
                      : ("cannot read " + c.feedback_rules_file).c_str());
      return 2;
    }
    (void)classifier.Prepend(*extra);
  }
  engine.SetClassifier(classifier);
  // SES events: configuration sets' destinations (the config file's and the
  // API's) name topics; the publisher keeps its own outbox.
  events::PublisherOptions po;
  po.dir = c.data_dir + "/events";
  po.who = {c.api_region, c.api_account_id};
  po.public_base =
      !c.api_public_url.empty()
          ? c.api_public_url
          : std::string(c.http.tls ? "https" : "http") + "://" +
                (c.http.address == "0.0.0.0" ? c.hostname : c.http.address) +
                ":" + std::to_string(c.http.port);
  po.events = c.events;
  for (const config::Listener* l : {&c.smtp, &c.smtps, &c.mx, &c.http}) {
    if (l->enabled) po.own_listeners.emplace_back(l->address, l->port);
  }
  std::string topic_arn_prefix =
      "arn:aws:sns:" + c.api_region + ":" + c.api_account_id + ":";
  events::Publisher publisher(
      po, events::ConfigSetDestinations(c, &resources, topic_arn_prefix),
      events::SpoolHeaders(sp->get()),
      events::IdentityNotificationTopics(&resources, topic_arn_prefix));
  stats::AlarmActions alarm_actions;
  alarm_actions.publish = [&publisher](const std::string& topic,
                                       const std::string& subject,
                                       const std::string& message) {
    publisher.PublishMessage(topic, subject, message);
  };
  alarm_actions.pause_config_set = [&resources](const std::string& cs) {
    Status s = resources.configuration_sets().SetSendingEnabled(cs, false);
    if (!s.ok())
      SESAME_LOG(kWarn, "alarms") << "cannot pause configuration set " << cs
                                  << ": " << s.error().ToString();
  };
  alarm_actions.pause_account = [&resources] {
    Status s = resources.account().SetSendingEnabled(false);
    if (!s.ok())
      SESAME_LOG(kWarn, "alarms")
          << "cannot pause the account: " << s.error().ToString();
  };
  stats::Alarms alarms(c.alarms, c.reputation.enforce, &sending_stats,
                       alarm_actions, c.data_dir + "/alarm_history.jsonl",
                       c.api_region, c.api_account_id);
  api::Api::Deps api_deps;
  api_deps.spool = sp->get();
  api_deps.keys = &keys;
  api_deps.iam = &iam;
  api_deps.quota = quota.get();
  api_deps.resources = &resources;
  api_deps.dkim = &dkim_keys;
  api_deps.admission = &admission;
  api_deps.mailbox = &mailbox;
  std::atomic<bool> listening{false};
  dashboard::Dashboard* enabled_dashboard =
      c.dashboard_enabled ? &dashboard : nullptr;
  api::Services api_services =
      app::WireServices({c, engine, publisher, sending_stats, alarms, registry,
                         resolver->get(), enabled_dashboard, listening});
  // This node, for /admin/node, `sesame node ...` and the cluster's
  // heartbeats. A drain outlives a restart (<data_dir>/draining).
  auto drain_marker = FileBlob(c.data_dir + "/draining");
  if (auto d = drain_marker->ReadIfChanged();
      d.ok() && *d && TrimCopy(**d, " \t\r\n") == "1") {
    admission.SetDraining(true);
    SESAME_LOG(kWarn, "node") << "draining (sesame node resume ends it)";
  }
  auto node_status = [&] {
    app::NodeStatus n;
    n.id = node_id;
    n.version = app::kVersion;
    n.http = c.http.address + ":" + std::to_string(c.http.port);
    n.smtp = c.smtp.address + ":" + std::to_string(c.smtp.port);
    n.draining = admission.Draining();
    n.leader = (*state)->IsLeader();
    n.queued = (*sp)->size();
    n.heartbeat_ms = NowMillis();
    if (redis_limits) {
      n.throttles = redis_limits->Up() ? "cluster" : "local-share";
      n.live_nodes = redis_limits->LiveNodes();
    }
    return n;
  };
  api_services.search_sent =
      [&sent_index](
          int64_t since, int64_t until, const std::string& cursor, size_t limit,
          const std::function<bool(const api::Services::SentMessage&)>& match) {
        auto of = [](const std::string& id,
                     const delivery::SentIndex::Entry& e) {
          api::Services::SentMessage m;
          m.id = id;
          m.created_ms = e.meta.created_ms;
          m.mail_from = e.meta.mail_from;
          m.config_set = e.meta.config_set;
          for (const auto& r : e.meta.recipients)
            m.recipients.push_back(r.address);
          m.header_block = e.header_block;
          return m;
        };
        auto page = sent_index.Search(since, until, cursor, limit, 200000,
                                      [&](const delivery::SentIndex::Entry& e) {
                                        return match(of(e.meta.id, e));
                                      });
        api::Services::SentPage out;
        for (const auto& f : page.items) out.items.push_back(of(f.id, f.entry));
        out.next = page.next;
        return out;
      };
  api_services.node_json = [node_status] {
    return app::NodeJson(node_status());
  };
  api_services.set_draining = [&admission, &drain_marker](bool draining) {
    Status st = drain_marker->Write(draining ? "1\n" : "0\n");
    if (!st.ok()) return st;
    admission.SetDraining(draining);
    SESAME_LOG(kWarn, "node") << (draining ? "draining: new sends are refused"
                                           : "resumed: accepting new sends");
    return st;
  };
  // The receiver is built after the API (it needs the fan-out); SendBounce
  // reaches it through this slot, set once it exists.
  inbound::Receiver* receiver_slot = nullptr;
  api_services.send_bounce =
      [&receiver_slot](ses::BounceRequest r,
                       std::function<void(Result<std::string>)> done) {
        if (!receiver_slot)
          return done(Error::Transient("unavailable", "receiving is starting"));
        receiver_slot->SendBounce(r, std::move(done));
      };
  api::Api api(c, api_deps, std::move(api_services));
  api.RegisterMetrics(&registry);
  admission.RegisterMetrics(&registry);
  net::AdminHooks hooks;
  hooks.http = [&api, &publisher, enabled_dashboard](
                   net::HttpRequest r,
                   std::function<void(net::HttpResponse)> done) {
    if (enabled_dashboard) {
      if (auto page = enabled_dashboard->Handle(r)) {
        done(std::move(*page));
        return;
      }
    }
    if (r.path.rfind("/sns/", 0) == 0) {
      // The publisher's own pages, answered on its thread.
      auto req = std::make_shared<net::HttpRequest>(std::move(r));
      publisher.Run([&publisher, req, done = std::move(done)] {
        done(*publisher.Http(*req));
      });
      return;
    }
    api.Handle(std::move(r), std::move(done));
  };
  hooks.is_mx_domain = [&resources](const std::string& d) {
    return resources.identities().IsMailFromDomain(d);
  };
  hooks.receiving = [&resources](const std::string& address, bool tls) {
    smtp::SessionOptions::RecipientVerdict v;
    auto reply = resources.receipt_rules().RecipientReply(
        address, tls, [&resources](const std::string& a) {
          return resources.identities().Verified(a);
        });
    v.known = reply.has_value();
    if (reply) v.reply = *reply;
    return v;
  };
  hooks.mx_refuses = [&resources](const std::string& ip) {
    return resources.receipt_rules().Blocked(ip);
  };
  hooks.authenticate = [&api](std::string_view u, std::string_view p) {
    return api.SmtpAuthenticate(u, p);
  };
  // Listeners are bound before anything starts that hands out URLs to this
  // server (subscription confirmations, verification links): a client that
  // follows one at once waits in the accept backlog instead of being
  // refused. They are served once Run() starts the loops.
  net::Server server(c, sp->get(), &admission, hooks);
  server.RegisterMetrics(&registry);
  if (Status st = server.Start(); !st.ok()) {
    std::fprintf(stderr, "sesame: %s\n", st.error().message().c_str());
    (*sp)->Close();
    std::fflush(nullptr);
    ::_exit(1);  // nothing else started, but the resolver thread runs
  }
  Status ps = publisher.Start();
  if (!ps.ok()) {
    std::fprintf(stderr, "sesame: events: %s\n", ps.error().message().c_str());
    return 1;
  }
  publisher.RegisterMetrics(&registry);
  delivery::EngineHooks engine_hooks;
  engine_hooks.suppressed = [&resources](const std::string& address,
                                         const std::string& config_set) {
    return resources.suppression().ContainsFor(address, config_set);
  };
  {
    std::set<std::string> names;
    for (const auto& cs : c.delivery.configuration_sets) names.insert(cs.name);
    resources.configuration_sets().SetConfigFileSets(std::move(names));
  }
  // Evaluates alarms every second; every minute saves the statistics and
  // the access keys' last use (kept in memory by the request path).
  std::atomic<bool> stats_stop{false};
  // With a shared store: the nodes' statistics are summed through it, and
  // the periodic work runs on the leader only.
  std::optional<stats::ClusterSync> cluster_stats;
  if ((*state)->Shared())
    cluster_stats.emplace(&sending_stats, state->get(), node_id);
  registry.Add([&state](metrics::Writer& w) {
    w.Gauge("sesame_cluster_leader",
            "1 while this node runs the cluster's periodic work (alarms, "
            "identity verification, retention).",
            (*state)->IsLeader() ? 1 : 0);
  });
  std::thread stats_thread([&] {
    int64_t last_save = NowMillis(), last_sync = 0;
    while (!stats_stop) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      bool leader = (*state)->IsLeader();
      if (cluster_stats && NowMillis() - last_sync >= 5000) {
        if (Status st = cluster_stats->Sync(NowMillis(), leader); !st.ok())
          SESAME_LOG(kDebug, "stats")
              << "cluster statistics not synced: " << st.error().message();
        if (Status st = cluster_stats->SyncAlarms(&alarms, leader); !st.ok())
          SESAME_LOG(kDebug, "stats")
              << "alarm states not synced: " << st.error().message();
        // The heartbeat `sesame node list` reads.
        (void)(*state)->Put("node", node_id, app::NodeJson(node_status()),
                            false);
        last_sync = NowMillis();
      }
      if (leader) alarms.Evaluate(NowMillis());
      if (NowMillis() - last_save > 60 * 1000) {
        (void)sending_stats.Save(stats_path);
        (void)keys.FlushLastUsed();
        last_save = NowMillis();
      }
    }
    (void)sending_stats.Save(stats_path);
    (void)keys.FlushLastUsed();
    if (cluster_stats) (void)cluster_stats->Sync(NowMillis(), false);
  });
  // Counters, statistics, the suppression list and publishing: one class.
  events::FanOut fanout(&resources, &sending_stats, &publisher);
  fanout.RegisterMetrics(&registry);
  fanout.Start();
  engine_hooks.on_event = [&fanout](delivery::MessageEvent e) {
    fanout.OnEvent(std::move(e));
  };
  // Mail at the MX is feedback: the inbound processor's, never the engine's.
  inbound::Processor::Options io;
  io.outcomes_path = c.data_dir + "/outcomes.jsonl";
  io.verp_domain = c.delivery.verp_domain;
  io.verp_key = verp_key;
  io.earlier_verp_keys = earlier_verp_keys;
  io.hold = c.delivery.mode == "hold";
  inbound::Processor inbound_processor(io, sp->get(), &sent_index, &fanout);
  inbound_processor.SetClassifier(classifier);
  // SES email receiving: mail for addresses the active receipt rule set
  // takes runs through its rules on the receiver's thread.
  inbound::ReceiverOptions recv_options;
  recv_options.receiving = c.receiving;
  recv_options.region = c.api_region;
  recv_options.account_id = c.api_account_id;
  recv_options.hostname = c.hostname;
  recv_options.outcomes_path = c.data_dir + "/outcomes.jsonl";
  inbound::Receiver receiver(recv_options, sp->get(), &resources, &publisher,
                             resolver->get(), &admission);
  receiver.RegisterMetrics(&registry);
  inbound_processor.SetReceiver(&receiver);
  receiver_slot = &receiver;
  inbound_processor.RegisterMetrics(&registry);
  (*sp)->SetCommitListener(
      [&engine, &inbound_processor](const spool::MessageInfo& info) {
        if (info.meta.source == "mx") {
          inbound_processor.Submit(info);
        } else {
          engine.Submit(info);
        }
      });
  // Events need the messages' headers: the spool cuts them from the body at
  // commit, while it is still in memory.
  (*sp)->SetCaptureHeaders([&publisher] { return publisher.HasSubscribers(); });
  // Dedicated IPs: a configuration set's SendingPoolName picks the source
  // addresses (snapshot kinds: memory reads on the engine thread).
  engine_hooks.sending_addresses = [&resources](const std::string& set) {
    auto cs = resources.configuration_sets().Get(set);
    if (!cs.ok()) return std::vector<std::string>{};
    auto* d = cs->options.if_contains("DeliveryOptions");
    std::string pool = d && d->is_object()
                           ? ses::JsonString(d->as_object(), "SendingPoolName")
                           : "";
    return resources.ip_pools().Addresses(pool);
  };
  // The sent index serves late feedback's events and the dashboard's message
  // search: kept while either is on.
  engine_hooks.remember_sent = [&publisher, search = c.dashboard_enabled] {
    return search || publisher.HasSubscribers();
  };
  engine.SetHooks(std::move(engine_hooks));
  std::unique_ptr<ses::IdentityVerifier> verifier;
  // Stops what Serve started, in reverse order: on the way out, and when the
  // engine cannot start (returning with the stats thread still joinable
  // would std::terminate).
  auto stop_services = [&] {
    if (verifier) verifier->Stop();
    inbound_processor.Stop();
    receiver.Stop();
    engine.Stop();
    if (redis_limits) redis_limits->Stop();  // its callbacks admit and deliver
    fanout.Stop();  // after the engine: the last events' suppressions
    sent_index.Close();
    stats_stop = true;
    if (stats_thread.joinable()) stats_thread.join();
    publisher.Stop();     // after the engine: it publishes until then
    signing_pool.Stop();  // signed mail still commits before the spool closes
    (*sp)->Close();
  };
  Status es = engine.Start();
  if (es.ok()) es = receiver.Start();
  if (es.ok()) es = inbound_processor.Start();
  if (!es.ok()) {
    std::fprintf(stderr, "sesame: %s\n", es.error().message().c_str());
    stop_services();
    std::fflush(nullptr);
    ::_exit(1);  // the resolver thread may still be running
  }
  // Domain identities are verified by DNS unless the profile auto-verifies.
  if (!c.api_auto_verify) {
    verifier = std::make_unique<ses::IdentityVerifier>(
        state->get(), &dkim_keys, resolver->get(),
        c.identity_verify_interval_seconds, c.identity_failure_after_seconds,
        c.hostname);
    verifier->Start();
  }
  listening = true;
  std::string smtp_port, http_port;
  std::printf("Sesame is running (%s profile, config: %s, data: %s)\n",
              c.profile.c_str(), c.source.c_str(), c.data_dir.c_str());
  if (c.delivery.mode == "capture") {
    std::printf("  delivery: capture (outbound mail is kept in %s/mailbox)\n",
                c.data_dir.c_str());
  } else if (c.delivery.mode == "hold") {
    std::printf("  delivery: hold (mail is accepted and kept queued)\n");
  } else {
    std::printf("  delivery: smtp (MX hosts and configured routes)\n");
  }
  for (const auto& b : server.bound()) {
    const char* what = b.name == "smtp"    ? "SMTP submission (STARTTLS, AUTH)"
                       : b.name == "smtps" ? "SMTP submission over implicit TLS"
                       : b.name == "mx"
                           ? "inbound MX (bounces, complaints)"
                           : "HTTP (SES APIs, dashboard at /, /metrics)";
    std::printf("  %-6s %s:%u  %s\n", b.name.c_str(), b.address.c_str(), b.port,
                what);
    if (b.name == "smtp") smtp_port = std::to_string(b.port);
    if (b.name == "http") http_port = std::to_string(b.port);
  }
  PrintFirstSteps(c, args, dev_key, smtp_port, http_port);
  std::fflush(stdout);

  // SIGTERM or SIGINT stops the listeners (in-flight transactions are
  // abandoned: nothing unacknowledged is committed, and clients retry) and
  // then the services, which make their state durable. A second signal, or a
  // shutdown still running after kShutdownSeconds, exits at once. That is
  // safe: nothing is acknowledged before it is fsynced, and recovery drops
  // a torn tail.
  static constexpr int kShutdownSeconds = 4;
  std::thread signals([&] {
    int sig = 0;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
      Reload(args, started_text, server);
    SESAME_LOG(kInfo, "main")
        << "received " << strsignal(sig) << ", shutting down";
    server.Stop();
    std::thread([] {
      std::this_thread::sleep_for(std::chrono::seconds(kShutdownSeconds));
      SESAME_LOG(kWarn, "main") << "shutdown still running after "
                                << kShutdownSeconds << " s; exiting now";
      ::_exit(1);
    }).detach();
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
    }
    SESAME_LOG(kWarn, "main")
        << "received " << strsignal(sig) << " again; exiting now";
    ::_exit(128 + sig);
  });
  server.Run();
  signals.detach();
  stop_services();
  SESAME_LOG(kInfo, "main") << "stopped";
  ::_exit(0);  // the signal thread may still be in sigwait
}

std::string MessageState(const spool::MessageMeta& m) {
  bool queued = false, failed = false, dead = false;
  for (const auto& r : m.recipients) {
    queued |= r.status == spool::RecipientStatus::kQueued;
    failed |= r.status == spool::RecipientStatus::kFailed;
    dead |= r.status == spool::RecipientStatus::kDeadLetter;
  }
  if (queued) return "queued";
  if (dead) return "dead-letter";
  return failed ? "failed" : "delivered";
}

int QueueList(const Args& args) {
  std::string data_dir = args.data_dir;
  if (data_dir.empty()) {
    auto cfg = ConfigOrReport(args);
    if (!cfg) return 2;
    data_dir = cfg->data_dir;
  }
  spool::RecoveryReport report;
  auto list = spool::Spool::Inspect(data_dir + "/spool", &report);
  if (!list.ok()) {
    std::fprintf(stderr, "sesame: cannot read spool in %s: %s\n",
                 data_dir.c_str(), list.error().message().c_str());
    return 1;
  }
  int64_t now = NowMillis();
  if (args.json) {
    std::string out = "[";
    for (size_t i = 0; i < list->size(); ++i) {
      const auto& m = (*list)[i];
      out += i ? ",\n " : "\n ";
      out += "{\"MessageId\":\"" + JsonEscape(m.meta.id) + "\",\"From\":\"" +
             JsonEscape(m.meta.mail_from) + "\",\"Recipients\":[";
      for (size_t k = 0; k < m.meta.recipients.size(); ++k) {
        const auto& r = m.meta.recipients[k];
        out += (k ? "," : "") + std::string("{\"Address\":\"") +
               JsonEscape(r.address) + "\",\"Status\":\"" +
               spool::RecipientStatusName(r.status) +
               "\",\"Attempts\":" + std::to_string(r.attempts) + "}";
      }
      out += "],\"Size\":" + std::to_string(m.size) + ",\"CreatedAt\":\"" +
             IsoTime(m.meta.created_ms) + "\",\"AgeSeconds\":" +
             std::to_string((now - m.meta.created_ms) / 1000) +
             ",\"State\":\"" + MessageState(m.meta) + "\",\"Source\":\"" +
             JsonEscape(m.meta.source) + "\"}";
    }
    out += list->empty() ? "]\n" : "\n]\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  } else {
    std::printf("%-61s %-8s %9s %7s  %s -> %s\n", "ID", "STATE", "SIZE", "AGE",
                "FROM", "RECIPIENTS");
    for (const auto& m : *list) {
      std::string rcpts;
      for (const auto& r : m.meta.recipients)
        rcpts += (rcpts.empty() ? "" : ",") + r.address;
      std::printf("%-61s %-8s %9llu %6llds  <%s> -> %s\n", m.meta.id.c_str(),
                  MessageState(m.meta).c_str(),
                  static_cast<unsigned long long>(m.size),
                  static_cast<long long>((now - m.meta.created_ms) / 1000),
                  m.meta.mail_from.c_str(), rcpts.c_str());
    }
    std::printf("%zu messages\n", list->size());
  }
  if (report.quarantined) {
    std::fprintf(
        stderr,
        "warning: %zu corrupt regions in the spool (see the server log)\n",
        report.quarantined);
  }
  return 0;
}

// A minimal HTTP/1.1 client for the admin API on the http listener.
Result<std::pair<int, std::string>> AdminRequest(const config::Config& c,
                                                 const std::string& method,
                                                 const std::string& target) {
  std::string host = c.http.address == "0.0.0.0" ? "127.0.0.1"
                     : c.http.address == "::"    ? "::1"
                                                 : c.http.address;
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host.c_str(), std::to_string(c.http.port).c_str(), &hints,
                  &res) != 0 ||
      !res) {
    return Error::Permanent("admin", "cannot resolve " + host);
  }
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int rc = fd < 0 ? -1 : ::connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0) {
    if (fd >= 0) ::close(fd);
    return Error::Transient("admin", "cannot reach sesame at " + host + ":" +
                                         std::to_string(c.http.port) +
                                         " (is it running?)");
  }
  auto token = auth::ReadToken(c.AdminTokenFile());
  if (!token.ok()) {
    ::close(fd);
    return token.error();
  }
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + host +
                    "\r\nAuthorization: Bearer " + *token +
                    "\r\nContent-Length: 0\r\n"
                    "Connection: close\r\n\r\n";
  if (::write(fd, req.data(), req.size()) != ssize_t(req.size())) {
    ::close(fd);
    return Error::Transient("admin", "write failed");
  }
  std::string resp;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) resp.append(buf, n);
  ::close(fd);
  size_t sp = resp.find(' ');
  size_t hdr_end = resp.find("\r\n\r\n");
  if (sp == std::string::npos || hdr_end == std::string::npos)
    return Error::Transient("admin", "bad response");
  return std::make_pair(std::atoi(resp.c_str() + sp + 1),
                        resp.substr(hdr_end + 4));
}

// True for a 200 answer; otherwise says why on stderr.
bool AdminAnswered(const Result<std::pair<int, std::string>>& r) {
  if (!r.ok()) {
    std::fprintf(stderr, "sesame: %s\n", r.error().message().c_str());
    return false;
  }
  if (r->first != 200) {
    std::fprintf(stderr, "sesame: server answered %d: %s\n", r->first,
                 r->second.c_str());
    return false;
  }
  return true;
}

// `sesame node ...`: list reads the shared store; the others ask this
// node's admin API.
int NodeCommand(const Args& args) {
  auto cfg = ConfigOrReport(args);
  if (!cfg) return 2;
  std::string sub = args.positional.size() >= 2 ? args.positional[1] : "list";
  if (sub == "list") {
    if (cfg->store_backend != "postgres") {
      std::fprintf(stderr,
                   "sesame: node list reads the shared store; this "
                   "configuration has store.backend %s (one node)\n",
                   cfg->store_backend.c_str());
      return 1;
    }
    auto state = store::Store::Open(cfg->store_backend, "", cfg->store_dsn);
    if (!state.ok()) {
      std::fprintf(stderr, "sesame: %s\n", state.error().message().c_str());
      return 1;
    }
    return app::NodeList(state->get(), args.json, NowMillis());
  }
  const char* method = sub == "status" ? "GET" : "POST";
  std::string path = sub == "status" ? "/admin/node" : "/admin/node/" + sub;
  auto r = AdminRequest(*cfg, method, path);
  if (!AdminAnswered(r)) return 1;
  std::printf("%s\n", r->second.c_str());
  if (sub != "drain" || !args.wait) return 0;
  // Until the queue is empty (the node keeps delivering while draining).
  while (true) {
    auto s = AdminRequest(*cfg, "GET", "/admin/node");
    if (!s.ok() || s->first != 200) {
      std::fprintf(stderr, "sesame: lost the node while waiting\n");
      return 1;
    }
    if (s->second.find("\"queued\":0,") != std::string::npos ||
        s->second.find("\"queued\":0}") != std::string::npos) {
      std::printf("drained: the queue is empty\n");
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

// `dlq list` for people: one line per dead-lettered recipient.
int PrintDeadLetters(const std::string& body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_array()) {
    std::fprintf(stderr, "sesame: the server's answer is not a list\n");
    return 1;
  }
  if (v.as_array().empty()) {
    std::printf("the dead-letter queue is empty\n");
    return 0;
  }
  auto text = [](const boost::json::object& o, const char* k) {
    const boost::json::value* x = o.if_contains(k);
    if (!x) return std::string();
    if (x->is_string()) return std::string(x->as_string());
    return boost::json::serialize(*x);
  };
  std::printf("%-46s %-32s %8s %-20s %s\n", "MESSAGE ID", "RECIPIENT",
              "ATTEMPTS", "QUEUED", "LAST REPLY");
  for (const auto& e : v.as_array()) {
    if (!e.is_object()) continue;
    const auto& o = e.as_object();
    std::string reason = text(o, "Reason");
    if (reason.size() > 60) reason = reason.substr(0, 57) + "...";
    std::printf("%-46s %-32s %8s %-20s %s\n", text(o, "MessageId").c_str(),
                text(o, "Recipient").c_str(), text(o, "Attempts").c_str(),
                text(o, "CreatedAt").c_str(), reason.c_str());
  }
  return 0;
}

int Dlq(const Args& args) {
  auto cfg = ConfigOrReport(args);
  if (!cfg) return 2;
  const auto& pos = args.positional;
  std::string sub = pos.size() >= 2 ? pos[1] : "list";
  std::string id = pos.size() >= 3 ? pos[2] : "";
  Result<std::pair<int, std::string>> r = Error::Permanent("usage", "");
  if (sub == "list" || sub == "show") {
    r = AdminRequest(*cfg, "GET", "/admin/dlq");
  } else if (sub == "redrive" || sub == "purge") {
    if (id.empty() && !args.all) {
      std::fprintf(stderr, "sesame: dlq %s needs a message id or --all\n",
                   sub.c_str());
      return 2;
    }
    r = AdminRequest(*cfg, "POST",
                     "/admin/dlq/" + sub + (id.empty() ? "" : "?id=" + id));
  } else {
    std::fprintf(stderr, "sesame: unknown dlq command '%s'\n%s", sub.c_str(),
                 app::CommandPage(*app::FindCommand("dlq")).c_str());
    return 2;
  }
  if (!AdminAnswered(r)) return 1;
  const std::string& body = r->second;
  if (sub == "show" && !id.empty()) {
    // Entries whose MessageId matches, one JSON object per line.
    size_t found = 0, pos2 = 0;
    while ((pos2 = body.find("{\"MessageId\":\"" + id + "\"", pos2)) !=
           std::string::npos) {
      size_t end = body.find('}', pos2);
      std::printf("%s\n", body.substr(pos2, end - pos2 + 1).c_str());
      ++found;
      pos2 = end;
    }
    if (!found) {
      std::fprintf(stderr, "sesame: %s is not in the dead-letter queue\n",
                   id.c_str());
      return 1;
    }
    return 0;
  }
  if (sub != "list" || args.json) {
    std::fwrite(body.data(), 1, body.size(), stdout);
    return 0;
  }
  return PrintDeadLetters(body);
}

// Every secret under the master key file's current key: access keys and
// DKIM private keys. Returns false after printing why not.
bool ResealAll(const config::Config& c, auth::KeyStore& keys, int* key_count,
               int* dkim_count) {
  auto n = keys.Reseal();
  if (!n.ok()) {
    std::fprintf(stderr, "sesame: %s\n", n.error().message().c_str());
    return false;
  }
  auto state = store::Store::Open(c.store_backend, c.data_dir + "/state.db",
                                  c.store_dsn);
  if (!state.ok()) {
    std::fprintf(stderr, "sesame: %s\n", state.error().message().c_str());
    return false;
  }
  ses::DkimKeys dkim(state->get(), c.MasterKeyFile(), c.dkim_ed25519);
  auto d = dkim.Reseal();
  if (!d.ok()) {
    std::fprintf(stderr, "sesame: %s\n", d.error().message().c_str());
    return false;
  }
  *key_count = *n;
  *dkim_count = *d;
  return true;
}

// `sesame keys rotate-master`: a new current master key, with every secret
// sealed again under it, in an order that is safe at each step and after a
// crash between any two. The file is replaced first (new key current, the
// previous one kept), so every secret opens with some key of the file
// whichever are re-sealed yet; running servers read the file again when a
// secret does not open with the keys they hold, so they never stop. The
// previous key stays until --retire-previous (after it has reached every
// node: VERP tokens sealed before the rotation still verify meanwhile).
// --prepare adds the next key without using it, for clusters: copy the
// file to every node, then rotate on one.
int RotateMaster(const config::Config& c, const Args& args,
                 auth::KeyStore& keys) {
  const std::string path = c.MasterKeyFile();
  (void)auth::LoadMasterKeys(path, true);  // a first key, if there was none
  auto file = auth::ReadMasterKeyFile(path);
  if (!file.ok()) {
    std::fprintf(stderr, "sesame: %s\n", file.error().message().c_str());
    return 1;
  }
  auto write = [&](const auth::MasterKeyFile& f) {
    Status st = auth::WriteMasterKeyFile(path, f);
    if (!st.ok())
      std::fprintf(stderr, "sesame: %s\n", st.error().message().c_str());
    return st.ok();
  };
  int n = 0, d = 0;
  if (args.prepare) {
    if (file->next.empty()) file->next.push_back(auth::NewMasterKey());
    if (!write(*file)) return 1;
    std::printf(
        "prepared the next master key in %s; copy the file to every node, "
        "then run `sesame keys rotate-master` on one\n",
        path.c_str());
    return 0;
  }
  if (args.retire) {
    if (!ResealAll(c, keys, &n, &d)) return 1;
    size_t dropped = file->earlier.size();
    file->earlier.clear();
    if (!write(*file)) return 1;
    std::printf(
        "%d access key(s) and %d DKIM key(s) sealed under the current key; "
        "%zu earlier key(s) removed from %s\n",
        n, d, dropped, path.c_str());
    return 0;
  }
  auth::MasterKeyFile rotated = *file;
  rotated.earlier.insert(rotated.earlier.begin(), file->current);
  if (!file->next.empty()) {
    rotated.current = file->next.front();
    rotated.next.erase(rotated.next.begin());
  } else {
    rotated.current = auth::NewMasterKey();
  }
  if (!write(rotated) || !ResealAll(c, keys, &n, &d)) return 1;
  std::printf(
      "master key rotated: %d access key(s) and %d DKIM key(s) re-sealed; "
      "the previous key stays in %s until `sesame keys rotate-master "
      "--retire-previous`\n",
      n, d, path.c_str());
  return 0;
}

int Keys(const Args& args) {
  auto cfg = ConfigOrReport(args);
  if (!cfg) return 2;
  const auto& pos = args.positional;
  std::string sub = pos.size() >= 2 ? pos[1] : "list";
  ::mkdir(cfg->data_dir.c_str(), 0700);
  auto creds = OpenCredentials(*cfg, nullptr);
  if (!creds.ok()) {
    std::fprintf(stderr, "sesame: %s\n", creds.error().message().c_str());
    return 1;
  }
  auth::KeyStore& keys = *creds->keys;
  if (sub == "create") {
    if (args.account.empty() && !args.user.empty()) {
      // A key of this account's IAM user: the user must exist (`sesame iam
      // create-user`), with at most two keys, as in IAM.
      auth::IamStore& iam = *creds->iam;
      if (auto u = iam.GetUser(args.user); !u.ok()) {
        std::fprintf(stderr, "sesame: %s\n", u.error().message().c_str());
        return 1;
      }
    }
    auto k = keys.Create(args.account, args.user);
    if (!k.ok()) {
      std::fprintf(stderr, "sesame: %s\n", k.error().message().c_str());
      return 1;
    }
    auth::Principal who{k->account.empty() ? cfg->api_account_id : k->account,
                        k->user};
    if (args.json) {
      std::printf(
          "{\"AccessKeyId\": \"%s\", \"SecretAccessKey\": \"%s\", "
          "\"Account\": \"%s\", \"Arn\": \"%s\"}\n",
          k->id.c_str(), k->secret.c_str(), who.account.c_str(),
          who.Arn().c_str());
    } else {
      std::printf(
          "AccessKeyId:     %s\nSecretAccessKey: %s\nSMTP password (%s): %s\n",
          k->id.c_str(), k->secret.c_str(), cfg->api_region.c_str(),
          auth::SmtpPassword(k->secret, cfg->api_region).c_str());
    }
    return 0;
  }
  if (sub == "show-dev") {
    if (cfg->profile != "local") {
      std::fprintf(stderr,
                   "sesame: keys show-dev is for the local profile only; "
                   "production keys' secrets are shown once, at creation\n");
      return 1;
    }
    auto k = DevKey(&keys);
    if (!k) {
      std::fprintf(stderr,
                   "sesame: no development key yet (start `sesame "
                   "serve` once)\n");
      return 1;
    }
    std::printf(
        "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\n"
        "export AWS_REGION=%s\n# SES SMTP password: %s\n",
        k->id.c_str(), k->secret.c_str(), cfg->api_region.c_str(),
        auth::SmtpPassword(k->secret, cfg->api_region).c_str());
    return 0;
  }
  if (sub == "list") {
    auto list = keys.List();
    if (!list.ok()) {
      std::fprintf(stderr, "sesame: %s\n", list.error().message().c_str());
      return 1;
    }
    if (args.json) {
      std::string out = "[";
      for (size_t i = 0; i < list->size(); ++i) {
        const auth::AccessKey& k = (*list)[i];
        auth::Principal who{k.account.empty() ? cfg->api_account_id : k.account,
                            k.user};
        out += (i ? ", " : "") + std::string("{\"AccessKeyId\": \"") + k.id +
               "\", \"CreatedAt\": \"" + IsoTime(k.created * 1000) +
               "\", \"Account\": \"" + who.account + "\", \"Arn\": \"" +
               who.Arn() + "\"}";
      }
      std::printf("%s]\n", out.c_str());
    } else {
      for (const auto& k : *list)
        std::printf("%s  created %s  %s\n", k.id.c_str(),
                    IsoTime(k.created * 1000).c_str(),
                    k.account.empty() ? "owner" : k.account.c_str());
    }
    return 0;
  }
  if (sub == "rotate-master") return RotateMaster(*cfg, args, keys);
  if (sub == "delete" && pos.size() >= 3) {
    auto r = keys.Delete(pos[2]);
    if (!r.ok()) {
      std::fprintf(stderr, "sesame: %s\n", r.error().message().c_str());
      return 1;
    }
    if (!*r) {
      std::fprintf(stderr, "sesame: no access key %s\n", pos[2].c_str());
      return 1;
    }
    std::printf("deleted %s\n", pos[2].c_str());
    return 0;
  }
  std::fprintf(
      stderr,
      "sesame: usage: sesame keys create [--account ID [--user NAME]]|list|"
      "delete ID|rotate-master [--prepare|--retire-previous] [--json] "
      "[--config FILE]\n");
  return 2;
}

// `sesame store migrate`: the shared store's schema, before the nodes
// start (or as part of an upgrade).
// `sesame store import`: one node's state (<data_dir>/state.db, the access
// keys and IAM files) copied into an empty shared store, so a node becomes
// the first of a cluster with its identities, keys and suppression list.
int StoreImport(const config::Config& c, const std::string& data_dir) {
  config::Config src = c;  // the single node's files
  src.data_dir = data_dir;
  auto from = store::Store::Open(data_dir + "/state.db");
  auto to = store::Store::Open(c.store_backend, "", c.store_dsn);
  if (!from.ok() || !to.ok()) {
    std::fprintf(stderr, "sesame: %s\n",
                 (!from.ok() ? from.error() : to.error()).message().c_str());
    return 1;
  }
  auto present = (*to)->Kinds();
  auto kinds = (*from)->Kinds();
  if (!present.ok() || !kinds.ok()) {
    std::fprintf(
        stderr, "sesame: %s\n",
        (!present.ok() ? present.error() : kinds.error()).message().c_str());
    return 1;
  }
  for (const auto& k : *present) {
    if (k != "node" && k != "stats-minute" && k != "alarm-state") {
      std::fprintf(stderr,
                   "sesame: the shared store already holds state (kind %s); "
                   "import needs an empty one\n",
                   k.c_str());
      return 1;
    }
  }
  size_t copied = 0;
  for (const auto& kind : *kinds) {
    std::string after;
    while (true) {
      auto page = (*from)->List(kind, after, 1000);
      if (!page.ok()) {
        std::fprintf(stderr, "sesame: %s\n", page.error().message().c_str());
        return 1;
      }
      for (const auto& [name, body] : *page) {
        if (Status st = (*to)->Put(kind, name, body, true); !st.ok()) {
          std::fprintf(stderr, "sesame: %s %s: %s\n", kind.c_str(),
                       name.c_str(), st.error().message().c_str());
          return 1;
        }
        ++copied;
      }
      if (page->size() < 1000) break;
      after = page->back().first;
    }
  }
  // The files a single node keeps its credentials in, as the blobs a
  // cluster shares (still sealed under the same master key).
  int blobs = 0;
  for (auto [name, path] : {std::pair<const char*, std::string>{
                                "access-keys", src.AccessKeysFile()},
                            {"iam", src.IamFile()}}) {
    auto text = FileBlob(path)->ReadIfChanged();
    if (!text.ok() || !*text || (*text)->empty()) continue;
    if (Status st = store::DocumentBlob(to->get(), name)->Write(**text);
        !st.ok()) {
      std::fprintf(stderr, "sesame: %s: %s\n", name,
                   st.error().message().c_str());
      return 1;
    }
    ++blobs;
  }
  std::printf(
      "imported %zu documents of %zu kinds and %d credential files from %s; "
      "their secrets are sealed under %s: every node's api.master_key_file "
      "must be that key\n",
      copied, kinds->size(), blobs, data_dir.c_str(),
      src.MasterKeyFile().c_str());
  return 0;
}

int StoreCommand(const Args& args) {
  auto cfg = ConfigOrReport(args);
  if (!cfg) return 2;
  if (cfg->store_backend != "postgres") {
    std::fprintf(stderr,
                 "sesame: store.backend is %s: SQLite's schema needs no "
                 "migration (it is made when the server opens it)\n",
                 cfg->store_backend.c_str());
    return 2;
  }
  auto m = store::PostgresStore::Migrate(cfg->store_dsn);
  if (!m.ok()) {
    std::fprintf(stderr, "sesame: %s\n", m.error().message().c_str());
    return 1;
  }
  std::printf("schema at version %d (%d migration%s applied)\n", m->first,
              m->second, m->second == 1 ? "" : "s");
  if (args.positional.size() >= 2 && args.positional[1] == "import")
    return StoreImport(*cfg,
                       args.data_dir.empty() ? cfg->data_dir : args.data_dir);
  return 0;
}

// `sesame iam …`: the common IAM tasks offline, on the same files the
// server reads (so a first admin can be made before the API is reachable).
int IamCommand(const Args& args) {
  auto cfg = ConfigOrReport(args);
  if (!cfg) return 2;
  ::mkdir(cfg->data_dir.c_str(), 0700);
  auto creds = OpenCredentials(*cfg, nullptr);
  if (!creds.ok()) {
    std::fprintf(stderr, "sesame: %s\n", creds.error().message().c_str());
    return 1;
  }
  auth::IamStore& iam = *creds->iam;
  auth::KeyStore& keys = *creds->keys;
  const auto& pos = args.positional;
  std::string sub = pos.size() >= 2 ? pos[1] : "list-users";
  auto arg = [&pos](size_t i) { return pos.size() > i + 1 ? pos[i + 1] : ""; };
  auto done = [](const Status& s, const std::string& what) {
    if (!s.ok()) {
      std::fprintf(stderr, "sesame: %s: %s\n", s.error().code().c_str(),
                   s.error().message().c_str());
      return 1;
    }
    if (!what.empty()) std::printf("%s\n", what.c_str());
    return 0;
  };
  auto need = [&](size_t n) {
    if (pos.size() >= n + 2) return true;
    std::fprintf(stderr,
                 "sesame: iam %s needs %zu argument%s (sesame help "
                 "iam)\n",
                 sub.c_str(), n, n == 1 ? "" : "s");
    return false;
  };
  if (sub == "list-users") {
    auto users = iam.ListUsers("/");
    if (!users.ok()) return done(users.error(), "");
    for (const auto& u : *users)
      std::printf(
          args.json ? "{\"UserName\": \"%s\", \"Arn\": \"%s\"}\n" : "%s  %s\n",
          u.name.c_str(), iam.UserArn(u).c_str());
    return 0;
  }
  if (sub == "create-user" && need(1)) {
    auto u = iam.CreateUser(arg(1), "/", {});
    return done(u.ok() ? Status(Ok{}) : Status(u.error()),
                u.ok() ? iam.UserArn(*u) : "");
  }
  if (sub == "delete-user" && need(1)) {
    bool has_keys = false;
    if (auto list = keys.List(); list.ok()) {
      for (const auto& k : *list)
        has_keys |= k.account.empty() && k.user == arg(1);
    }
    return done(iam.DeleteUser(arg(1), has_keys), "deleted " + arg(1));
  }
  if (sub == "attach-user-policy" && need(2))
    return done(iam.Attach("user", arg(1), arg(2)), "");
  if (sub == "detach-user-policy" && need(2))
    return done(iam.Detach("user", arg(1), arg(2)), "");
  if (sub == "put-user-policy" && need(3)) {
    // The document inline, or @FILE.
    std::string doc = arg(3);
    if (!doc.empty() && doc[0] == '@') {
      std::ifstream f(doc.substr(1));
      if (!f)
        return done(
            Error::Permanent("NoSuchFile", "cannot read " + doc.substr(1)), "");
      doc.assign(std::istreambuf_iterator<char>(f), {});
    }
    return done(iam.PutInline("user", arg(1), arg(2), doc), "");
  }
  if (sub == "create-group" && need(1)) {
    auto g = iam.CreateGroup(arg(1), "/");
    return done(g.ok() ? Status(Ok{}) : Status(g.error()),
                g.ok() ? iam.GroupArn(*g) : "");
  }
  if (sub == "add-user-to-group" && need(2))
    return done(iam.AddUserToGroup(arg(1), arg(2)), "");
  if (sub == "attach-group-policy" && need(2))
    return done(iam.Attach("group", arg(1), arg(2)), "");
  if (sub == "simulate" && need(2)) {
    auth::AuthzRequest r;
    r.principal = {cfg->api_account_id, arg(1)};
    r.action = arg(2);
    r.resource = arg(3).empty() ? "*" : arg(3);
    auth::Decision d = iam.Decide(arg(1), r);
    std::printf("%s\n", d == auth::Decision::kAllow  ? "allowed"
                        : d == auth::Decision::kDeny ? "explicitDeny"
                                                     : "implicitDeny");
    return d == auth::Decision::kAllow ? 0 : 1;
  }
  return 2;
}

// A DKIM key's records for a domain that is not an identity: made for one
// run, never stored.
Result<ses::DkimKeys::Info> PreviewDkimKey(const std::string& domain) {
  auto key = dkim::PrivateKey::Generate(dkim::Algorithm::kRsaSha256, 2048);
  if (!key.ok()) return key.error();
  ses::DkimKeys::Info info;
  info.domain = domain;
  info.selector = "preview";
  info.dns_name = "preview._domainkey." + domain;
  info.dns_value = key->DnsRecord();
  return info;
}

// The records of the server itself that every sending domain relies on:
// the bounce (VERP) domain's MX and SPF (it is the envelope sender of all
// mail, so receivers check SPF there) and the hostname's A and PTR.
void AddServerRecords(const config::Config& c,
                      std::vector<ses::DnsRecord>* records) {
  const std::string& host = c.hostname;
  if (!c.delivery.verp_domain.empty()) {
    records->push_back({"bounce-mx", c.delivery.verp_domain, "MX",
                        "10 " + host + ".", "unchecked"});
    records->push_back({"bounce-spf", c.delivery.verp_domain, "TXT",
                        "v=spf1 a:" + host + " -all", "unchecked"});
  }
  records->push_back({"hostname-a", host, "A",
                      "<this host's public IPv4 address>", "unchecked"});
  records->push_back({"hostname-ptr", "<the address, reversed>.in-addr.arpa",
                      "PTR", host + ". (set by the address's provider)",
                      "unchecked"});
}

// Whether an MX record names the host it should, or an A record resolves.
std::string HostRecordStatus(dns::Resolver* resolver, const ses::DnsRecord& r) {
  std::promise<Result<dns::MxResult>> p;
  auto done = [&p](Result<dns::MxResult> res) { p.set_value(std::move(res)); };
  if (r.type == "MX")
    resolver->ResolveMx(r.name, done);
  else
    resolver->ResolveHost(r.name, done);
  auto res = p.get_future().get();
  if (!res.ok())
    return res.error().transient() ? "unknown (" + res.error().message() + ")"
                                   : "missing";
  if (r.type == "A")
    return !res->hosts.empty() && !res->hosts[0].addresses.empty() ? "ok"
                                                                   : "missing";
  std::string want = r.value.substr(r.value.find(' ') + 1);
  want.pop_back();  // the trailing dot
  for (const auto& h : res->hosts)
    if (!res->implicit && AsciiLowerCopy(h.name) == AsciiLowerCopy(want))
      return "ok";
  return res->implicit ? "missing" : "mismatch";
}

// `sesame config check`: every error in the file (not only the first), the
// files it names that cannot be read, then the risky settings as warnings.
int ConfigCheck(const std::string& path) {
  auto cfg = config::LoadConfigFile(path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", cfg.error().message().c_str());
    return 1;
  }
  int errors = 0;
  for (const auto& [key, file] :
       {std::pair<const char*, std::string>{"tls.cert_file",
                                            cfg->tls_cert_file},
        {"tls.key_file", cfg->tls_key_file},
        {"feedback.rules_file", cfg->feedback_rules_file},
        {"receiving.ca_file", cfg->receiving.ca_file}}) {
    if (!file.empty() && ::access(file.c_str(), R_OK) != 0) {
      std::fprintf(stderr, "%s: %s: cannot read %s: %s\n", path.c_str(), key,
                   file.c_str(), std::strerror(errno));
      ++errors;
    }
  }
  for (const auto& w : config::Warnings(*cfg))
    std::fprintf(stderr, "%s: warning: %s\n", path.c_str(), w.c_str());
  if (errors) return 1;
  std::printf("%s: ok\n", path.c_str());
  return 0;
}

// Every DNS record a domain needs, to paste into its zone.
int IdentityRecords(const Args& args) {
  auto cfg = ConfigOrReport(args);
  if (!cfg) return 2;
  if (args.positional.size() < 3) {
    std::fprintf(stderr,
                 "sesame: usage: sesame identity records DOMAIN [--json] "
                 "[--config FILE]\n");
    return 2;
  }
  std::string domain = AsciiLowerCopy(args.positional[2]);
  if (domain.find('.') == std::string::npos ||
      domain.find_first_of(" @/") != std::string::npos) {
    std::fprintf(stderr, "sesame: '%s' is not a domain name\n", domain.c_str());
    return 2;
  }
  ::mkdir(cfg->data_dir.c_str(), 0700);
  auto state = store::Store::Open(cfg->store_backend,
                                  cfg->data_dir + "/state.db", cfg->store_dsn);
  if (!state.ok()) {
    std::fprintf(stderr, "sesame: %s\n", state.error().message().c_str());
    return 1;
  }
  ses::DkimKeys dkim(state->get(), cfg->MasterKeyFile(), cfg->dkim_ed25519);
  ses::Identities identities(state->get(), cfg->api_auto_verify, &dkim);
  // A domain that is no identity gets no stored key: its DKIM record is a
  // preview from a key made for this run only.
  bool identity = identities.Exists(domain) || dkim.Find(domain).has_value();
  auto key = identity ? dkim.Ensure(domain) : PreviewDkimKey(domain);
  if (!key.ok()) {
    std::fprintf(stderr, "sesame: %s\n", key.error().message().c_str());
    return 1;
  }
  if (!identity)
    std::fprintf(stderr,
                 "sesame: %s is not an identity yet: the DKIM record below is "
                 "a preview (no key was kept); create the identity, then run "
                 "this again\n",
                 domain.c_str());
  std::vector<ses::DnsRecord> records =
      ses::RecordsFor(domain, *key, cfg->hostname);
  AddServerRecords(*cfg, &records);
  // Does each record resolve as it should right now?
  dns::ResolverOptions ro;
  ro.servers = cfg->delivery.resolver;
  ro.timeout_ms = 1500;
  ro.tries = 1;
  auto resolver = dns::Resolver::Create(ro);
  for (auto& r : records) {
    if (!resolver.ok()) continue;
    if (r.type == "MX" || r.type == "A") {
      r.status = HostRecordStatus(resolver->get(), r);
      continue;
    }
    if (r.type != "TXT") continue;  // PTR: at the address's provider
    std::promise<Result<std::vector<std::string>>> p;
    (*resolver)->ResolveTxt(r.name, [&](Result<std::vector<std::string>> res) {
      p.set_value(std::move(res));
    });
    r.status = ses::RecordStatus(r, p.get_future().get());
  }
  if (args.json) {
    std::printf("{\"Domain\": \"%s\", \"Records\": %s}\n",
                JsonEscape(domain).c_str(), ses::RecordsJson(records).c_str());
    return 0;
  }
  std::printf("DNS records for %s (publish all of them):\n\n", domain.c_str());
  for (const auto& r : records) {
    // TXT values over 255 octets are split into quoted strings, as zone files
    // want.
    std::string quoted = r.type == "TXT" ? "" : r.value;
    for (size_t i = 0; r.type == "TXT" && i < r.value.size(); i += 255)
      quoted += (i ? " " : "") + ("\"" + r.value.substr(i, 255) + "\"");
    std::printf("; %s (now: %s)\n%s. 3600 IN %s %s\n\n", r.purpose.c_str(),
                r.status.c_str(), r.name.c_str(), r.type.c_str(),
                quoted.c_str());
  }
  std::printf(
      "The DMARC and SPF lines are suggestions; merge them with records you "
      "already publish.\n");
  return 0;
}

int Main(int argc, char** argv) {
  auto args = ParseArgs(argc, argv);
  if (!args.ok()) {
    std::fprintf(stderr, "sesame: %s\n%s", args.error().message().c_str(),
                 app::Overview().c_str());
    return 2;
  }
  const auto& pos = args->positional;
  std::string cmd = pos.empty() ? "help" : pos[0];
  if (args->version || (cmd == "version" && !args->help)) {
    std::printf("sesame %s\n", app::kVersion);
    return 0;
  }
  const app::CommandHelp* row = app::FindCommand(cmd);
  if (!row) {
    std::fprintf(stderr, "sesame: unknown command '%s'\n\n%s", cmd.c_str(),
                 app::Overview().c_str());
    return 2;
  }
  if (cmd == "help" || args->help) {
    const app::CommandHelp* page = row;  // `help --help`: help's own page
    if (cmd == "help" && pos.size() >= 2) page = app::FindCommand(pos[1]);
    if (cmd == "help" && pos.size() < 2 && !args->help) page = nullptr;
    if (cmd == "help" && pos.size() >= 2 && !page) {
      std::fprintf(stderr, "sesame: unknown command '%s'\n\n%s", pos[1].c_str(),
                   app::Overview().c_str());
      return 2;
    }
    std::fputs(page ? app::CommandPage(*page).c_str() : app::Overview().c_str(),
               stdout);
    return 0;
  }
  if (std::string wrong = app::CheckArguments(*row, pos); !wrong.empty()) {
    std::fprintf(stderr, "sesame %s: %s\n\n%s", cmd.c_str(), wrong.c_str(),
                 app::CommandPage(*row).c_str());
    return 2;
  }
  if (cmd == "serve") return Serve(*args);
  if (cmd == "dlq") return Dlq(*args);
  if (cmd == "keys") return Keys(*args);
  if (cmd == "iam") return IamCommand(*args);
  if (cmd == "store") return StoreCommand(*args);
  if (cmd == "node") return NodeCommand(*args);
  if (cmd == "suppression") {
    auto cfg = ConfigOrReport(*args);
    if (!cfg) return 2;
    std::string dir = args->data_dir.empty() ? cfg->data_dir : args->data_dir;
    ::mkdir(dir.c_str(), 0700);
    auto state = store::Store::Open(cfg->store_backend, dir + "/state.db",
                                    cfg->store_dsn);
    if (!state.ok()) {
      std::fprintf(stderr, "sesame: %s\n", state.error().message().c_str());
      return 1;
    }
    return app::Suppression(state->get(), pos, args->json);
  }
  if (cmd == "events" && pos.size() >= 2 && pos[1] == "dlq") {
    auto cfg = ConfigOrReport(*args);
    if (!cfg) return 2;
    std::string sub = pos.size() >= 3 ? pos[2] : "list";
    auto r = sub == "redrive"
                 ? AdminRequest(*cfg, "POST",
                                "/admin/events/dlq/redrive" +
                                    (pos.size() >= 4 ? "?subscription=" + pos[3]
                                                     : std::string()))
                 : AdminRequest(*cfg, "GET", "/admin/events/dlq");
    if (!r.ok()) {
      std::fprintf(stderr, "sesame: %s\n", r.error().message().c_str());
      return 1;
    }
    std::printf("%s\n", r->second.c_str());
    return r->first == 200 ? 0 : 1;
  }
  if (cmd == "bounce-parse")
    return app::BounceParse(
        std::vector<std::string>(pos.begin() + 1, pos.end()));
  if (cmd == "bounce-eval") {
    if (pos.size() != 3) {
      std::fprintf(stderr,
                   "sesame: usage: sesame bounce-eval DIR LABELS [--all]\n");
      return 2;
    }
    return app::BounceEval(pos[1], pos[2], args->all);
  }
  if (cmd == "identity" && pos.size() >= 2 && pos[1] == "records")
    return IdentityRecords(*args);
  if (cmd == "queue" && pos.size() >= 2 && pos[1] == "list")
    return QueueList(*args);
  if (cmd == "config" && pos.size() >= 2 && pos[1] == "check") {
    if (args->config_path.empty()) {
      std::fprintf(stderr, "sesame: config check needs --config FILE\n");
      return 2;
    }
    return ConfigCheck(args->config_path);
  }
  if (cmd == "api" && pos.size() >= 2 && pos[1] == "operations") {
    // The route tables themselves: scripts/ses-api-table makes
    // docs/ses-api.md from this list and botocore's service models.
    for (const auto& op : api::Api::Operations())
      std::printf("%s\n", op.c_str());
    for (const auto& action : events::SnsActions())
      std::printf("sns %s\n", action.c_str());
    return 0;
  }
  // Every row of app::Commands() is dispatched above.
  std::fprintf(stderr, "sesame: '%s' is not wired\n", cmd.c_str());
  return 2;
}

}  // namespace
}  // namespace sesame

int main(int argc, char** argv) { return sesame::Main(argc, argv); }
