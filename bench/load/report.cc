#include "load/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "load/json_writer.h"

namespace ringward::load {
namespace {

constexpr double kNsPerUs = 1000.0;

struct Percentile {
  const char* label;  // for the table and the JSON key
  const char* key;
  double p;
};
constexpr Percentile kPercentiles[] = {
    {"p50", "p50", 50.0},      {"p90", "p90", 90.0},        {"p99", "p99", 99.0},
    {"p99.9", "p99_9", 99.9}, {"p99.99", "p99_99", 99.99},
};

std::string Human(double v) {
  if (v >= 1e9) {
    return absl::StrFormat("%.2fG", v / 1e9);
  }
  if (v >= 1e6) {
    return absl::StrFormat("%.2fM", v / 1e6);
  }
  if (v >= 1e4) {
    return absl::StrFormat("%.1fk", v / 1e3);
  }
  return absl::StrFormat("%.0f", v);
}

std::string Bytes(uint64_t b) {
  const double v = static_cast<double>(b);
  if (v >= 1e9) {
    return absl::StrFormat("%.2f GB", v / 1e9);
  }
  if (v >= 1e6) {
    return absl::StrFormat("%.1f MB", v / 1e6);
  }
  if (v >= 1e3) {
    return absl::StrFormat("%.1f kB", v / 1e3);
  }
  return absl::StrFormat("%d B", b);
}

std::string MixText(const Report& r) {
  if (r.mix.size() == 1) {
    return r.mix[0].name;
  }
  std::string s;
  for (const MixEntry& m : r.mix) {
    absl::StrAppend(&s, s.empty() ? "" : ",", m.name, "=", m.weight);
  }
  return s;
}

std::string LatencyLine(const LatencyHistogram& h) {
  std::string s;
  for (const Percentile& p : kPercentiles) {
    if (p.p > 99.9) {
      continue;
    }
    absl::StrAppend(&s, p.label, " ", FormatDuration(h.ValueAtPercentile(p.p)), "  ");
  }
  absl::StrAppend(&s, "max ", FormatDuration(h.max()), "  mean ",
                  FormatDuration(static_cast<uint64_t>(h.mean())));
  return s;
}

void WriteLatency(JsonWriter& w, std::string_view key, const LatencyHistogram& h) {
  w.Key(key);
  w.BeginObject();
  w.Field("count", h.count());
  w.Field("min", static_cast<double>(h.min()) / kNsPerUs, 1);
  w.Field("mean", h.mean() / kNsPerUs, 1);
  for (const Percentile& p : kPercentiles) {
    w.Field(p.key, static_cast<double>(h.ValueAtPercentile(p.p)) / kNsPerUs, 1);
  }
  w.Field("max", static_cast<double>(h.max()) / kNsPerUs, 1);
  w.EndObject();
}

// ---- SVG helpers ----

std::string Esc(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// NiceStep returns a 1/2/5 x 10^k step that splits |range| into about |ticks| parts.
double NiceStep(double range, int ticks) {
  if (range <= 0) {
    return 1;
  }
  const double raw = range / ticks;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

std::string Num(double v) {
  std::string s = absl::StrFormat("%.3f", v);
  while (s.back() == '0') {
    s.pop_back();
  }
  if (s.back() == '.') {
    s.pop_back();
  }
  return s;
}

std::string PercentileLabel(int nines) {
  if (nines == 0) {
    return "0%";
  }
  std::string s = "9";
  if (nines >= 2) {
    s += "9";
    if (nines >= 3) {
      s += ".";
      s.append(static_cast<size_t>(nines - 2), '9');
    }
  } else {
    s += "0";
  }
  return s + "%";
}

double PercentileX(double p) { return -std::log10(std::max(1e-12, 1.0 - p / 100.0)); }

}  // namespace

double Report::ThroughputRps() const {
  const double t = std::max(elapsed_s, 1e-9);
  return static_cast<double>(stats.completed) / t;
}

uint64_t Report::BulkTokens() const {
  for (const TemplateStats& t : stats.templates) {
    if (t.name == "bulk") {
      return t.completed * static_cast<uint64_t>(std::max(batch, 0));
    }
  }
  return 0;
}

double Report::SentRps() const {
  return window_s > 0 ? static_cast<double>(stats.sent_in_window) / window_s : 0;
}

double Report::ServerCpuUsPerRequest() const {
  return stats.completed > 0 ? server_cpu_s * 1e6 / static_cast<double>(stats.completed) : 0;
}

double Report::ClientCpuUsPerRequest() const {
  return stats.completed > 0 ? client_cpu_s * 1e6 / static_cast<double>(stats.completed) : 0;
}

std::string FormatDuration(uint64_t ns) {
  if (ns < 1000) {
    return absl::StrFormat("%dns", ns);
  }
  const double v = static_cast<double>(ns);
  if (ns < 1'000'000) {
    return absl::StrFormat("%.1fus", v / 1e3);
  }
  if (ns < 1'000'000'000) {
    return absl::StrFormat("%.2fms", v / 1e6);
  }
  return absl::StrFormat("%.3fs", v / 1e9);
}

std::string FormatText(const Report& r) {
  const Stats& s = r.stats;
  std::string out;
  absl::StrAppend(&out, "ringward-load: ", r.open_loop ? "open loop" : "closed loop", ", ", r.url,
                  " (", MixText(r), "), ", r.threads, r.threads == 1 ? " thread, " : " threads, ",
                  r.connections, " connections");
  if (r.pipeline > 1) {
    absl::StrAppend(&out, ", pipeline ", r.pipeline);
  }
  if (r.open_loop) {
    absl::StrAppend(&out, ", target ", Num(r.target_rate), " req/s");
  }
  absl::StrAppend(&out, "\n");
  absl::StrAppend(&out, absl::StrFormat("  requests     %d answered in %.2fs = %.1f req/s", s.completed,
                                        r.elapsed_s, r.ThroughputRps()));
  absl::StrAppend(&out, absl::StrFormat("  (sent %.1f req/s over %.2fs", r.SentRps(), r.window_s));
  if (r.open_loop) {
    absl::StrAppend(&out, absl::StrFormat(", %.2f%% of target", 100.0 * r.SentRps() / r.target_rate));
  }
  absl::StrAppend(&out, ")\n");
  absl::StrAppend(&out, "  latency      ", LatencyLine(s.latency),
                  r.open_loop ? "   (from the intended send time)\n" : "\n");
  if (r.open_loop) {
    absl::StrAppend(&out, "  service time ", LatencyLine(s.service),
                    "   (from the actual send, as a closed-loop tool measures)\n");
    absl::StrAppend(&out, "  send lag     p50 ", FormatDuration(s.send_lag.ValueAtPercentile(50)),
                    "  p99 ", FormatDuration(s.send_lag.ValueAtPercentile(99)), "  max ",
                    FormatDuration(s.send_lag.max()),
                    "   (actual minus intended send time, incl. waits for a connection)\n");
  }
  if (s.templates.size() > 1) {
    for (const TemplateStats& t : s.templates) {
      absl::StrAppend(&out, absl::StrFormat("  mix %-8s %d answered (%.1f%%), %d unexpected, p50 %s p99 %s\n",
                                            t.name, t.completed,
                                            s.completed ? 100.0 * t.completed / s.completed : 0.0,
                                            t.unexpected,
                                            FormatDuration(t.latency.ValueAtPercentile(50)),
                                            FormatDuration(t.latency.ValueAtPercentile(99))));
    }
  }
  if (r.BulkTokens() > 0) {
    absl::StrAppend(&out, absl::StrFormat("  bulk         %d tokens in batches of %d = %.1f tokens/s\n",
                                          r.BulkTokens(), r.batch,
                                          static_cast<double>(r.BulkTokens()) / std::max(r.elapsed_s, 1e-9)));
  }
  std::string statuses;
  for (int code = 0; code < Stats::kMaxStatus; ++code) {
    if (s.status[static_cast<size_t>(code)] != 0) {
      absl::StrAppend(&statuses, statuses.empty() ? "" : "  ", code, ": ",
                      s.status[static_cast<size_t>(code)]);
    }
  }
  if (s.status_other != 0) {
    absl::StrAppend(&statuses, "  other: ", s.status_other);
  }
  absl::StrAppend(&out, "  statuses     ", statuses.empty() ? "none" : statuses, "\n");
  const ErrorCounts& e = s.errors;
  if (e.RequestErrors() == 0 && e.connect == 0 && e.tls == 0) {
    absl::StrAppend(&out, "  errors       none\n");
  } else {
    absl::StrAppend(&out, "  errors       unexpected status ", e.status, ", timeout ", e.timeout,
                    ", read ", e.read, ", closed ", e.closed, ", parse ", e.parse,
                    ", unfinished ", e.unfinished, "; connect ", e.connect, ", tls ", e.tls, "\n");
  }
  const VerifyCounts& v = s.verify;
  if (v.valid_accepted + v.valid_rejected + v.bad_rejected + v.bad_accepted + v.unknown_accepted +
          v.unknown_rejected + v.other >
      0) {
    absl::StrAppend(&out, "  verify       good->2xx ", v.valid_accepted, "  bad->401 ",
                    v.bad_rejected, "  good->401 ", v.valid_rejected, "  bad->2xx ",
                    v.bad_accepted);
    if (v.unknown_accepted + v.unknown_rejected > 0) {
      absl::StrAppend(&out, "  --tokens: 2xx ", v.unknown_accepted, " 401 ", v.unknown_rejected);
    }
    absl::StrAppend(&out, "  other ", v.other, "\n");
    if (v.bad_accepted > 0) {
      absl::StrAppend(&out, "  WARNING      the server accepted ", v.bad_accepted,
                      " tokens that are broken or expired\n");
    }
  }
  absl::StrAppend(&out, "  transfer     in ", Bytes(s.bytes_in), ", out ", Bytes(s.bytes_out),
                  ", ", s.connects, " connections opened\n");
  if (r.has_server_cpu) {
    std::string pids;
    for (int p : r.server_pids) {
      absl::StrAppend(&pids, pids.empty() ? "" : ",", p);
    }
    absl::StrAppend(&out, absl::StrFormat("  server cpu   %.2f us/request  (%.3fs, pids %s)\n",
                                          r.ServerCpuUsPerRequest(), r.server_cpu_s, pids));
  }
  absl::StrAppend(&out, absl::StrFormat("  client cpu   %.2f us/request  (%.3fs)\n",
                                        r.ClientCpuUsPerRequest(), r.client_cpu_s));
  return out;
}

std::string FormatJson(const Report& r) {
  const Stats& s = r.stats;
  JsonWriter w;
  w.BeginObject();
  w.Field("tool", "ringward-load");
  w.Field("format", 1);
  w.Key("config");
  w.BeginObject();
  w.Field("url", r.url);
  w.Field("mode", r.open_loop ? "open-loop" : "closed-loop");
  w.Field("rate", r.target_rate, 1);
  w.Field("threads", r.threads);
  w.Field("connections", r.connections);
  w.Field("pipeline", r.pipeline);
  w.Field("duration_s", r.duration_s);
  w.Field("max_requests", r.max_requests);
  w.Field("timeout_ms", r.timeout_ms);
  w.Field("workload", r.workload);
  w.Key("mix");
  w.BeginArray();
  for (const MixEntry& m : r.mix) {
    w.BeginObject();
    w.Field("name", m.name);
    w.Field("weight", static_cast<uint64_t>(m.weight));
    w.EndObject();
  }
  w.EndArray();
  w.Key("pool");
  w.BeginObject();
  w.Field("valid", static_cast<uint64_t>(r.pool.valid));
  w.Field("invalid", static_cast<uint64_t>(r.pool.invalid));
  w.Field("expired", static_cast<uint64_t>(r.pool.expired));
  w.Field("from_file", static_cast<uint64_t>(r.pool.from_file));
  w.EndObject();
  w.Field("batch", r.batch);
  w.EndObject();

  w.Key("result");
  w.BeginObject();
  w.Field("window_s", r.window_s, 6);
  w.Field("elapsed_s", r.elapsed_s, 6);
  w.Field("requests", s.completed);
  w.Field("ok", s.ok);
  w.Field("sent", s.sent);
  w.Field("sent_in_window", s.sent_in_window);
  w.Field("scheduled", s.scheduled);
  w.Field("throughput_rps", r.ThroughputRps(), 1);
  w.Field("sent_rps", r.SentRps(), 1);
  w.Field("bulk_tokens", r.BulkTokens());
  w.Field("bulk_tokens_per_s", static_cast<double>(r.BulkTokens()) / std::max(r.elapsed_s, 1e-9), 1);
  w.Field("bytes_in", s.bytes_in);
  w.Field("bytes_out", s.bytes_out);
  w.Field("connections_opened", s.connects);
  w.EndObject();

  WriteLatency(w, "latency_us", s.latency);
  if (r.open_loop) {
    WriteLatency(w, "service_time_us", s.service);
    WriteLatency(w, "send_lag_us", s.send_lag);
  }
  w.Key("latency_curve");
  w.BeginArray();
  for (const LatencyHistogram::CurvePoint& p : s.latency.PercentileCurve(10)) {
    w.BeginArray();
    w.Double(p.percentile, 6);
    w.Double(static_cast<double>(p.value_ns) / kNsPerUs, 1);
    w.EndArray();
  }
  w.EndArray();

  w.Key("templates");
  w.BeginArray();
  for (const TemplateStats& t : s.templates) {
    w.BeginObject();
    w.Field("name", t.name);
    w.Field("sent", t.sent);
    w.Field("completed", t.completed);
    w.Field("unexpected", t.unexpected);
    WriteLatency(w, "latency_us", t.latency);
    w.EndObject();
  }
  w.EndArray();

  w.Key("status");
  w.BeginObject();
  for (int code = 0; code < Stats::kMaxStatus; ++code) {
    if (s.status[static_cast<size_t>(code)] != 0) {
      w.Field(absl::StrCat(code), s.status[static_cast<size_t>(code)]);
    }
  }
  if (s.status_other != 0) {
    w.Field("other", s.status_other);
  }
  w.EndObject();
  w.Key("status_classes");
  w.BeginObject();
  for (int c = 1; c <= 5; ++c) {
    uint64_t n = 0;
    for (int code = c * 100; code < c * 100 + 100; ++code) {
      n += s.status[static_cast<size_t>(code)];
    }
    w.Field(absl::StrCat(c, "xx"), n);
  }
  w.EndObject();

  const ErrorCounts& e = s.errors;
  w.Key("errors");
  w.BeginObject();
  w.Field("request_errors", e.RequestErrors());
  w.Field("status", e.status);
  w.Field("timeout", e.timeout);
  w.Field("read", e.read);
  w.Field("closed", e.closed);
  w.Field("parse", e.parse);
  w.Field("unfinished", e.unfinished);
  w.Field("connect", e.connect);
  w.Field("tls", e.tls);
  w.EndObject();

  const VerifyCounts& v = s.verify;
  w.Key("verify");
  w.BeginObject();
  w.Field("valid_accepted", v.valid_accepted);
  w.Field("valid_rejected", v.valid_rejected);
  w.Field("bad_rejected", v.bad_rejected);
  w.Field("bad_accepted", v.bad_accepted);
  w.Field("unknown_accepted", v.unknown_accepted);
  w.Field("unknown_rejected", v.unknown_rejected);
  w.Field("other", v.other);
  w.EndObject();

  w.Key("server_cpu");
  if (r.has_server_cpu) {
    w.BeginObject();
    w.Key("pids");
    w.BeginArray();
    for (int p : r.server_pids) {
      w.Int(p);
    }
    w.EndArray();
    w.Field("cpu_s", r.server_cpu_s, 3);
    w.Field("us_per_request", r.ServerCpuUsPerRequest(), 3);
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("client_cpu");
  w.BeginObject();
  w.Field("cpu_s", r.client_cpu_s, 3);
  w.Field("us_per_request", r.ClientCpuUsPerRequest(), 3);
  w.EndObject();

  w.Key("per_second");
  w.BeginArray();
  for (size_t i = 0; i < s.seconds.size(); ++i) {
    w.BeginObject();
    w.Field("t", static_cast<uint64_t>(i));
    w.Field("requests", s.seconds[i].completed);
    w.Field("unexpected", s.seconds[i].unexpected);
    w.Field("errors", s.seconds[i].errors);
    w.Field("max_latency_us", static_cast<double>(s.seconds[i].max_latency_ns) / kNsPerUs, 1);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.str() + "\n";
}

std::string FormatSvg(const Report& r) {
  const Stats& s = r.stats;
  constexpr double kWidth = 960;
  constexpr double kHeight = 820;
  constexpr double kLeft = 90;
  constexpr double kRight = 880;
  std::string o;
  absl::StrAppend(&o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", Num(kWidth),
                  "\" height=\"", Num(kHeight), "\" viewBox=\"0 0 ", Num(kWidth), " ",
                  Num(kHeight), "\" font-family=\"sans-serif\" font-size=\"12\">\n",
                  "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
  const std::string title = absl::StrCat(
      "ringward-load: ", r.open_loop ? absl::StrCat("open loop at ", Num(r.target_rate), " req/s")
                                     : std::string("closed loop"),
      ", ", r.connections, " connections, ", r.threads, r.threads == 1 ? " thread" : " threads",
      " - ", r.url, " (", MixText(r), ")");
  absl::StrAppend(&o, "<text x=\"", Num(kLeft), "\" y=\"24\" font-size=\"15\" font-weight=\"bold\">",
                  Esc(title), "</text>\n");
  absl::StrAppend(&o, "<text x=\"", Num(kLeft), "\" y=\"44\">",
                  Esc(absl::StrFormat("%d answered, %.1f req/s; p50 %s, p99 %s, p99.9 %s, max %s; "
                                      "%d request errors",
                                      s.completed, r.ThroughputRps(),
                                      FormatDuration(s.latency.ValueAtPercentile(50)),
                                      FormatDuration(s.latency.ValueAtPercentile(99)),
                                      FormatDuration(s.latency.ValueAtPercentile(99.9)),
                                      FormatDuration(s.latency.max()), s.errors.RequestErrors())),
                  "</text>\n");

  // Panel 1: latency by percentile, x = log10(1 / (1 - p)).
  {
    constexpr double kTop = 80;
    constexpr double kBottom = 420;
    std::vector<LatencyHistogram::CurvePoint> main_curve = s.latency.PercentileCurve(20);
    std::vector<LatencyHistogram::CurvePoint> service_curve;
    if (r.open_loop) {
      service_curve = s.service.PercentileCurve(20);
    }
    const double count = static_cast<double>(std::max<uint64_t>(s.latency.count(), 1));
    const double x_last = std::max(std::log10(count), 0.0);  // where the maximum is placed
    const double x_max = std::max(2.0, std::ceil(x_last));
    uint64_t y_top_ns = std::max<uint64_t>(s.latency.max(), 1);
    if (r.open_loop) {
      y_top_ns = std::max(y_top_ns, s.service.max());
    }
    const bool ms = y_top_ns >= 1'000'000;
    const double unit = ms ? 1e6 : 1e3;
    const double y_range_raw = static_cast<double>(y_top_ns) / unit;
    const double y_step = NiceStep(y_range_raw, 6);
    const double y_range = std::ceil(y_range_raw / y_step) * y_step;
    auto px = [&](double x) { return kLeft + (kRight - kLeft) * x / x_max; };
    auto py = [&](double v) { return kBottom - (kBottom - kTop) * v / y_range; };
    absl::StrAppend(&o, "<text x=\"", Num(kLeft), "\" y=\"", Num(kTop - 8),
                    "\" font-weight=\"bold\">Latency by percentile",
                    r.open_loop ? " (from the intended send time)" : "", "</text>\n");
    for (int i = 0; i <= static_cast<int>(x_max); ++i) {
      const double x = px(i);
      absl::StrAppend(&o, "<line x1=\"", Num(x), "\" y1=\"", Num(kTop), "\" x2=\"", Num(x),
                      "\" y2=\"", Num(kBottom), "\" stroke=\"#ddd\"/>\n", "<text x=\"", Num(x),
                      "\" y=\"", Num(kBottom + 16), "\" text-anchor=\"middle\">",
                      PercentileLabel(i), "</text>\n");
    }
    for (double v = 0; v <= y_range + y_step / 2; v += y_step) {
      const double y = py(v);
      absl::StrAppend(&o, "<line x1=\"", Num(kLeft), "\" y1=\"", Num(y), "\" x2=\"", Num(kRight),
                      "\" y2=\"", Num(y), "\" stroke=\"#ddd\"/>\n", "<text x=\"", Num(kLeft - 6),
                      "\" y=\"", Num(y + 4), "\" text-anchor=\"end\">", Num(v), "</text>\n");
    }
    absl::StrAppend(&o, "<text x=\"", Num((kLeft + kRight) / 2), "\" y=\"", Num(kBottom + 34),
                    "\" text-anchor=\"middle\">percentile (log scale of 1/(1-p))</text>\n",
                    "<text transform=\"translate(", Num(kLeft - 52), " ", Num((kTop + kBottom) / 2),
                    ") rotate(-90)\" text-anchor=\"middle\">latency (", ms ? "ms" : "us",
                    ")</text>\n");
    auto polyline = [&](const std::vector<LatencyHistogram::CurvePoint>& curve, const char* color,
                        const char* extra, const char* css_class) {
      if (curve.empty()) {
        return;
      }
      absl::StrAppend(&o, "<polyline class=\"", css_class, "\" fill=\"none\" stroke=\"", color,
                      "\" stroke-width=\"2\" ", extra, " points=\"");
      for (const LatencyHistogram::CurvePoint& p : curve) {
        const double x = p.percentile >= 100.0 ? x_last : std::min(PercentileX(p.percentile), x_last);
        absl::StrAppend(&o, Num(px(x)), ",", Num(py(static_cast<double>(p.value_ns) / unit)), " ");
      }
      absl::StrAppend(&o, "\"/>\n");
    };
    polyline(main_curve, "#1f5fbf", "", "latency");
    if (r.open_loop) {
      polyline(service_curve, "#e07b00", "stroke-dasharray=\"6 4\"", "service");
    }
    // Legend.
    double ly = kTop + 14;
    absl::StrAppend(&o, "<line x1=\"", Num(kLeft + 12), "\" y1=\"", Num(ly - 4), "\" x2=\"",
                    Num(kLeft + 40), "\" y2=\"", Num(ly - 4),
                    "\" stroke=\"#1f5fbf\" stroke-width=\"2\"/><text x=\"", Num(kLeft + 46),
                    "\" y=\"", Num(ly), "\">",
                    r.open_loop ? "latency from the intended send time" : "latency", "</text>\n");
    if (r.open_loop) {
      ly += 18;
      absl::StrAppend(&o, "<line x1=\"", Num(kLeft + 12), "\" y1=\"", Num(ly - 4), "\" x2=\"",
                      Num(kLeft + 40), "\" y2=\"", Num(ly - 4),
                      "\" stroke=\"#e07b00\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/><text x=\"",
                      Num(kLeft + 46), "\" y=\"", Num(ly),
                      "\">service time, from the actual send (leaves out waits for a free connection)</text>\n");
    }
  }

  // Panel 2: answers per second, errors per second, and the slowest answer of each second.
  {
    constexpr double kTop = 510;
    constexpr double kBottom = 760;
    size_t n = static_cast<size_t>(std::ceil(r.window_s - 1e-9));
    n = std::max<size_t>(std::min(n, s.seconds.size()), 1);
    uint64_t max_count = 1;
    uint64_t max_lat = 1;
    for (size_t i = 0; i < n && i < s.seconds.size(); ++i) {
      const SecondBucket& b = s.seconds[i];
      max_count = std::max(max_count, b.completed - std::min(b.unexpected, b.completed) + b.errors);
      max_lat = std::max(max_lat, s.seconds[i].max_latency_ns);
    }
    const double c_step = NiceStep(static_cast<double>(max_count), 5);
    const double c_range = std::ceil(static_cast<double>(max_count) / c_step) * c_step;
    const bool ms = max_lat >= 1'000'000;
    const double unit = ms ? 1e6 : 1e3;
    const double l_step = NiceStep(static_cast<double>(max_lat) / unit, 5);
    const double l_range = std::ceil(static_cast<double>(max_lat) / unit / l_step) * l_step;
    const double slot = (kRight - kLeft) / static_cast<double>(n);
    auto py = [&](double v) { return kBottom - (kBottom - kTop) * v / c_range; };
    auto ly = [&](double v) { return kBottom - (kBottom - kTop) * v / l_range; };
    absl::StrAppend(&o, "<text x=\"", Num(kLeft), "\" y=\"", Num(kTop - 8),
                    "\" font-weight=\"bold\">Requests per second: right answers (blue), errors (red); "
                    "and the slowest answer of each second (green)</text>\n");
    for (double v = 0; v <= c_range + c_step / 2; v += c_step) {
      const double y = py(v);
      absl::StrAppend(&o, "<line x1=\"", Num(kLeft), "\" y1=\"", Num(y), "\" x2=\"", Num(kRight),
                      "\" y2=\"", Num(y), "\" stroke=\"#ddd\"/>\n", "<text x=\"", Num(kLeft - 6),
                      "\" y=\"", Num(y + 4), "\" text-anchor=\"end\">", Human(v), "</text>\n");
    }
    for (double v = 0; v <= l_range + l_step / 2; v += l_step) {
      absl::StrAppend(&o, "<text x=\"", Num(kRight + 6), "\" y=\"", Num(ly(v) + 4),
                      "\" fill=\"#2a8f2a\">", Num(v), "</text>\n");
    }
    absl::StrAppend(&o, "<text transform=\"translate(", Num(kLeft - 52), " ",
                    Num((kTop + kBottom) / 2),
                    ") rotate(-90)\" text-anchor=\"middle\">requests/s</text>\n",
                    "<text transform=\"translate(", Num(kRight + 56), " ",
                    Num((kTop + kBottom) / 2),
                    ") rotate(-90)\" text-anchor=\"middle\" fill=\"#2a8f2a\">max latency (",
                    ms ? "ms" : "us", ")</text>\n", "<text x=\"", Num((kLeft + kRight) / 2),
                    "\" y=\"", Num(kBottom + 34), "\" text-anchor=\"middle\">second of the run</text>\n");
    std::string line_points;
    for (size_t i = 0; i < n; ++i) {
      const SecondBucket b = i < s.seconds.size() ? s.seconds[i] : SecondBucket{};
      const double x = kLeft + slot * static_cast<double>(i);
      const uint64_t good = b.completed - std::min(b.unexpected, b.completed);
      const double ok_top = py(static_cast<double>(good));
      absl::StrAppend(&o, "<rect class=\"second\" x=\"", Num(x + slot * 0.1), "\" y=\"", Num(ok_top),
                      "\" width=\"", Num(slot * 0.8), "\" height=\"", Num(kBottom - ok_top),
                      "\" fill=\"#8fb3e8\"><title>", Esc(absl::StrFormat("second %d: %d answered, %d errors, max %s", i,
                                          b.completed, b.errors, FormatDuration(b.max_latency_ns))),
                      "</title></rect>\n");
      if (b.errors > 0) {
        const double err_top = py(static_cast<double>(good + b.errors));
        absl::StrAppend(&o, "<rect x=\"", Num(x + slot * 0.1), "\" y=\"", Num(err_top),
                        "\" width=\"", Num(slot * 0.8), "\" height=\"", Num(ok_top - err_top),
                        "\" fill=\"#d33\"/>\n");
      }
      absl::StrAppend(&line_points, Num(x + slot / 2), ",",
                      Num(ly(static_cast<double>(b.max_latency_ns) / unit)), " ");
      if (n <= 60 || i % ((n + 29) / 30) == 0) {
        absl::StrAppend(&o, "<text x=\"", Num(x + slot / 2), "\" y=\"", Num(kBottom + 16),
                        "\" text-anchor=\"middle\">", i, "</text>\n");
      }
    }
    absl::StrAppend(&o, "<polyline class=\"max-latency\" fill=\"none\" stroke=\"#2a8f2a\" "
                        "stroke-width=\"2\" points=\"",
                    line_points, "\"/>\n");
    absl::StrAppend(&o, "<line x1=\"", Num(kLeft), "\" y1=\"", Num(kBottom), "\" x2=\"",
                    Num(kRight), "\" y2=\"", Num(kBottom), "\" stroke=\"#333\"/>\n");
  }
  absl::StrAppend(&o, "</svg>\n");
  return o;
}

}  // namespace ringward::load
