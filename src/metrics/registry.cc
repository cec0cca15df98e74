#include "metrics/registry.h"

#include <cmath>
#include <cstdio>

namespace sesame::metrics {

namespace {

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Label values: backslash, double quote and line feed escaped (0.0.4).
void AppendLabelValue(std::string* out, std::string_view v) {
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      *out += "\\n";
    } else {
      out->push_back(c);
    }
  }
}

}  // namespace

void Writer::Family(std::string_view name, std::string_view help,
                    std::string_view type) {
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  for (char c : help) {  // help text: backslash and line feed escaped
    if (c == '\\') {
      text_ += "\\\\";
    } else if (c == '\n') {
      text_ += "\\n";
    } else {
      text_ += c;
    }
  }
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type;
  text_ += '\n';
}

void Writer::Sample(
    std::string_view name,
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
    double value) {
  text_ += name;
  if (labels.size() > 0) {
    text_ += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) text_ += ',';
      first = false;
      text_ += k;
      text_ += "=\"";
      AppendLabelValue(&text_, v);
      text_ += '"';
    }
    text_ += '}';
  }
  text_ += ' ';
  text_ += Number(value);
  text_ += '\n';
}

void Writer::Counter(std::string_view name, std::string_view help,
                     double value) {
  Family(name, help, "counter");
  Sample(name, value);
}

void Writer::Gauge(std::string_view name, std::string_view help, double value) {
  Family(name, help, "gauge");
  Sample(name, value);
}

void Writer::HistogramFamily(std::string_view name, std::string_view help,
                             const Histogram& h, const std::string& labels) {
  Family(name, help, "histogram");
  HistogramSamples(name, h, labels);
}

void Writer::HistogramSamples(std::string_view name, const Histogram& h,
                              const std::string& labels) {
  text_ += h.Prometheus(std::string(name), labels);
}

void Registry::Add(Collect collect) {
  entries_.push_back({nullptr, std::move(collect)});
}

void Registry::AddOwned(Runner run, Collect collect) {
  entries_.push_back({std::move(run), std::move(collect)});
}

void Registry::Render(std::function<void(std::string)> done) const {
  RenderFrom(0, std::make_shared<Writer>(), std::move(done));
}

// Plain entries are written at once; at an owned one, the rest of the
// render continues on its owner's thread.
void Registry::RenderFrom(size_t i, std::shared_ptr<Writer> w,
                          std::function<void(std::string)> done) const {
  for (; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    if (!e.run) {
      e.collect(*w);
      continue;
    }
    e.run([this, i, w, done = std::move(done)]() mutable {
      entries_[i].collect(*w);
      RenderFrom(i + 1, std::move(w), std::move(done));
    });
    return;
  }
  done(w->Take());
}

}  // namespace sesame::metrics
