#include "app/services.h"

#include <chrono>
#include <cstdlib>
#include <thread>

#include "base/ids.h"
#include "events/sns_api.h"
#include "mime/mime.h"
#include "stats/report.h"

namespace sesame::app {

api::Services WireServices(ServiceParts p) {
  const config::Config& c = p.config;
  delivery::Engine& engine = p.engine;
  events::Publisher& publisher = p.publisher;
  stats::Stats& sending_stats = p.stats;
  stats::Alarms& alarms = p.alarms;
  metrics::Registry& registry = p.registry;
  dns::Resolver* resolver = p.resolver;
  dashboard::Dashboard* dashboard = p.dashboard;
  std::atomic<bool>& listening = p.listening;
  api::Services s;
  // Asked of the thread that owns the answer (the engine's, the
  // publisher's); the answer comes back through the callback, so no network
  // loop waits (see api::Services).
  auto on_engine = [&engine](auto f) {
    return [&engine, f](auto done) {
      engine.Run([f, done = std::move(done)] { done(f()); });
    };
  };
  auto on_publisher = [&publisher](auto f) {
    return [&publisher, f](auto done) {
      publisher.Run([f, done = std::move(done)] { done(f()); });
    };
  };
  s.metrics = [&registry](api::TextDone done) {
    registry.Render(std::move(done));
  };
  s.dead_letters_json =
      on_engine([&engine] { return engine.DeadLettersJson(); });
  s.redrive = [&engine](const std::string& id, api::CountDone done) {
    engine.Run([&engine, id, done] { done(engine.Redrive(id)); });
  };
  s.purge = [&engine](const std::string& id, api::CountDone done) {
    engine.Run([&engine, id, done] { done(engine.Purge(id)); });
  };
  if (std::getenv("SESAME_DEBUG_HOOKS")) {
    s.hold_engine = [&engine](int ms) {
      engine.Run(
          [ms] { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); });
    };
  }
  s.rendering_failure = [&publisher](const api::RenderingFailure& f) {
    delivery::MessageEvent e;
    e.type = delivery::MessageEvent::Type::kRenderingFailure;
    e.timestamp_ms = NowMillis();
    e.meta.id = f.message_id;
    e.meta.created_ms = e.timestamp_ms;
    e.meta.mail_from = mime::AddrSpec(f.from);
    e.meta.config_set = f.config_set;
    e.meta.client_ip = f.client_ip;
    e.meta.source = "api";
    for (const auto& d : f.destinations) {
      spool::Recipient r;
      r.address = mime::AddrSpec(d);
      e.meta.recipients.push_back(r);
    }
    e.meta_complete = false;  // never queued: no headers to read
    e.template_name = f.template_name;
    e.error_message = f.error;
    publisher.Publish(std::move(e));
  };
  s.sns = [&publisher](const std::string& action,
                       const std::map<std::string, std::string>& form,
                       std::function<void(net::HttpResponse)> done) {
    if (!events::IsSnsAction(action)) return false;
    publisher.Run([&publisher, action, form, done] {
      done(*events::HandleSnsAction(&publisher, action, form));
    });
    return true;
  };
  s.topic_exists = [&publisher](const std::string& arn) {
    for (const auto& t : publisher.Topics())  // the registry locks
      if (t.arn == arn) return true;
    return false;
  };
  s.listeners_up = [&listening] { return listening.load(); };
  s.enforcement_status = [&alarms] { return alarms.ReputationStatus(""); };
  s.send_statistics = [&sending_stats] {
    return stats::SendDataPoints(sending_stats, NowMillis());
  };
  s.statistics_json = [&sending_stats](const std::string& resolution,
                                       const std::string& scope) {
    return stats::StatisticsJson(sending_stats, resolution, scope, NowMillis());
  };
  s.alarms_json = [&alarms] { return alarms.StatesJson(); };
  s.alarm_history_json = [&alarms] { return alarms.HistoryJson(); };
  s.event_dead_letters_json =
      on_publisher([&publisher] { return publisher.DeadLettersJson(); });
  s.event_redrive = [&publisher](const std::string& sub, api::CountDone done) {
    publisher.Run([&publisher, sub, done] { done(publisher.Redrive(sub)); });
  };
  s.queues_json = on_engine([&engine] { return engine.QueuesJson(); });
  s.event_subscriptions_json =
      on_publisher([&publisher] { return publisher.SubscriptionsJson(); });
  s.reputation_json = [&sending_stats, &alarms, &c] {
    return stats::ReputationJson(sending_stats, &alarms, c.reputation,
                                 NowMillis());
  };
  s.resolve_txt =
      [r = resolver](
          const std::string& name,
          std::function<void(Result<std::vector<std::string>>)> done) {
        r->ResolveTxt(name, std::move(done));
      };
  s.admin_session =
      [dashboard](const net::HttpRequest& req) -> std::optional<std::string> {
    if (!dashboard) return std::nullopt;
    return dashboard->AuthorizedLogin(req);
  };
  return s;
}

}  // namespace sesame::app
