#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/histogram.h"

namespace sesame::metrics {

// Builds Prometheus text exposition (version 0.0.4): a family's HELP and
// TYPE once, then its samples. Label values are escaped. Used by a
// module's collect function while /metrics renders; not thread-safe (one
// render at a time owns it).
class Writer {
 public:
  // Starts a family; `type` is "counter", "gauge" or "histogram".
  void Family(std::string_view name, std::string_view help,
              std::string_view type);
  // One sample of the current family; `labels` as {{"site","x"},...}.
  void Sample(
      std::string_view name,
      std::initializer_list<std::pair<std::string_view, std::string_view>>
          labels,
      double value);
  void Sample(std::string_view name, double value) { Sample(name, {}, value); }
  // A family with a single unlabelled sample.
  void Counter(std::string_view name, std::string_view help, double value);
  void Gauge(std::string_view name, std::string_view help, double value);
  // A whole histogram family (its buckets, sum and count); `labels` is the
  // inner label text, e.g. `listener="smtp"`, or "".
  void HistogramFamily(std::string_view name, std::string_view help,
                       const Histogram& h, const std::string& labels = "");
  // More samples of a histogram family started with Family().
  void HistogramSamples(std::string_view name, const Histogram& h,
                        const std::string& labels);

  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

// The one registry behind /metrics. Each module registers the families it
// owns once, at start: plain ones (read from any thread: atomics,
// histograms) and owned ones, whose state belongs to one thread (the
// delivery engine's queues, the publisher's subscriptions) and is read
// there: Render() posts to each owner in turn and answers when the last
// has written, so no caller ever waits on another thread.
//
// Owned by the app. Add*() before serving; Render() from any thread, any
// number at once (each render has its own Writer).
class Registry {
 public:
  using Collect = std::function<void(Writer&)>;
  // `run` executes a function on the owning thread, later.
  using Runner = std::function<void(std::function<void()>)>;

  void Add(Collect collect);
  void AddOwned(Runner run, Collect collect);

  // Calls `done` with the whole exposition, from the last owner's thread
  // (or the caller's when nothing is owned).
  void Render(std::function<void(std::string)> done) const;

 private:
  struct Entry {
    Runner run;  // empty: any thread
    Collect collect;
  };
  void RenderFrom(size_t i, std::shared_ptr<Writer> w,
                  std::function<void(std::string)> done) const;

  std::vector<Entry> entries_;
};

}  // namespace sesame::metrics
