#include "load/stats.h"

#include <algorithm>

namespace ringward::load {

void ErrorCounts::Merge(const ErrorCounts& o) {
  connect += o.connect;
  tls += o.tls;
  timeout += o.timeout;
  read += o.read;
  closed += o.closed;
  parse += o.parse;
  unfinished += o.unfinished;
  status += o.status;
}

void VerifyCounts::Merge(const VerifyCounts& o) {
  valid_accepted += o.valid_accepted;
  valid_rejected += o.valid_rejected;
  bad_rejected += o.bad_rejected;
  bad_accepted += o.bad_accepted;
  unknown_accepted += o.unknown_accepted;
  unknown_rejected += o.unknown_rejected;
  other += o.other;
}

SecondBucket& Stats::SecondAt(int64_t rel_ns) {
  const size_t i = rel_ns <= 0 ? 0 : static_cast<size_t>(rel_ns / 1'000'000'000);
  if (i >= seconds.size()) {
    seconds.resize(i + 1);
  }
  return seconds[i];
}

void Stats::Merge(const Stats& o) {
  latency.Merge(o.latency);
  service.Merge(o.service);
  send_lag.Merge(o.send_lag);
  if (templates.size() < o.templates.size()) {
    templates.resize(o.templates.size());
  }
  for (size_t i = 0; i < o.templates.size(); ++i) {
    TemplateStats& t = templates[i];
    const TemplateStats& u = o.templates[i];
    if (t.name.empty()) {
      t.name = u.name;
    }
    t.sent += u.sent;
    t.completed += u.completed;
    t.unexpected += u.unexpected;
    t.latency.Merge(u.latency);
  }
  for (int i = 0; i < kMaxStatus; ++i) {
    status[i] += o.status[i];
  }
  status_other += o.status_other;
  errors.Merge(o.errors);
  verify.Merge(o.verify);
  if (seconds.size() < o.seconds.size()) {
    seconds.resize(o.seconds.size());
  }
  for (size_t i = 0; i < o.seconds.size(); ++i) {
    seconds[i].completed += o.seconds[i].completed;
    seconds[i].unexpected += o.seconds[i].unexpected;
    seconds[i].errors += o.seconds[i].errors;
    seconds[i].max_latency_ns = std::max(seconds[i].max_latency_ns, o.seconds[i].max_latency_ns);
  }
  scheduled += o.scheduled;
  sent += o.sent;
  sent_in_window += o.sent_in_window;
  completed += o.completed;
  ok += o.ok;
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  connects += o.connects;
  last_completion_ns = std::max(last_completion_ns, o.last_completion_ns);
  window_ns = std::max(window_ns, o.window_ns);
}

}  // namespace ringward::load
