#include "server/metrics.h"

#include <string_view>

#include "server/response.h"

namespace ringward::server {

size_t StatusSlot(int status) {
  for (size_t i = 0; i + 1 < kStatusSlots; ++i) {
    if (kCountedStatuses[i] == status) {
      return i;
    }
  }
  return kStatusSlots - 1;
}

std::string_view VerifyOutcomeName(size_t i) {
  if (i == kOutcomeMissingToken) {
    return "missing_token";
  }
  if (i == kOutcomeUnsafeClaim) {
    return "unsafe_claim";
  }
  return token::VerifyReasonName(static_cast<token::VerifyReason>(i));
}

namespace {

void Family(std::string* out, std::string_view name, std::string_view type,
            std::string_view help) {
  out->append("# HELP ringward_");
  out->append(name);
  out->push_back(' ');
  out->append(help);
  out->append("\n# TYPE ringward_");
  out->append(name);
  out->push_back(' ');
  out->append(type);
  out->push_back('\n');
}

// Sample writes one line: ringward_<name>{shard="N",<labels>} value. |shard| < 0 means the
// total (no shard label). |labels| is preformatted (`route="verify",status="200"`) or empty.
void Sample(std::string* out, std::string_view name, int shard, std::string_view labels,
            uint64_t value) {
  out->append("ringward_");
  out->append(name);
  if (shard >= 0 || !labels.empty()) {
    out->push_back('{');
    if (shard >= 0) {
      out->append("shard=\"");
      AppendDecimal(out, static_cast<uint64_t>(shard));
      out->push_back('"');
      if (!labels.empty()) {
        out->push_back(',');
      }
    }
    out->append(labels);
    out->push_back('}');
  }
  out->push_back(' ');
  AppendDecimal(out, value);
  out->push_back('\n');
}

// Counter renders one counter per shard and the total, reading it through |get|.
template <typename Get>
void Series(std::string* out, std::span<const ShardMetrics> shards, std::string_view name,
            std::string_view labels, Get get) {
  uint64_t total = 0;
  for (size_t s = 0; s < shards.size(); ++s) {
    total += get(shards[s]);
  }
  Sample(out, name, -1, labels, total);
  for (size_t s = 0; s < shards.size(); ++s) {
    Sample(out, name, static_cast<int>(s), labels, get(shards[s]));
  }
}

}  // namespace

void RenderMetrics(std::span<const ShardMetrics> shards, bool ready, std::string* out) {
  std::string labels;

  Family(out, "http_requests_total", "counter", "HTTP requests answered, by route and status.");
  for (size_t r = 0; r < kRouteCount; ++r) {
    for (size_t st = 0; st < kStatusSlots; ++st) {
      uint64_t total = 0;
      for (const ShardMetrics& m : shards) {
        total += m.requests[r][st].Value();
      }
      if (total == 0) {
        continue;  // only combinations that happened; routes x statuses is mostly empty
      }
      labels.assign("route=\"");
      labels.append(RouteName(static_cast<Route>(r)));
      labels.append("\",status=\"");
      if (kCountedStatuses[st] == 0) {
        labels.append("other");
      } else {
        AppendDecimal(&labels, static_cast<uint64_t>(kCountedStatuses[st]));
      }
      labels.push_back('"');
      Series(out, shards, "http_requests_total", labels,
             [r, st](const ShardMetrics& m) { return m.requests[r][st].Value(); });
    }
  }

  Family(out, "http_parse_errors_total", "counter", "Malformed requests, by parser verdict.");
  for (size_t p = 1; p < http::kParseStatusCount; ++p) {
    const auto status = static_cast<http::ParseStatus>(p);
    if (!http::IsParseError(status)) {
      continue;
    }
    uint64_t total = 0;
    for (const ShardMetrics& m : shards) {
      total += m.parse_errors[p].Value();
    }
    if (total == 0) {
      continue;
    }
    labels.assign("reason=\"");
    labels.append(http::ParseStatusName(status));
    labels.push_back('"');
    Series(out, shards, "http_parse_errors_total", labels,
           [p](const ShardMetrics& m) { return m.parse_errors[p].Value(); });
  }

  Family(out, "verify_total", "counter", "Token verifications, by outcome.");
  for (size_t i = 0; i < kVerifyOutcomeCount; ++i) {
    labels.assign("reason=\"");
    labels.append(VerifyOutcomeName(i));
    labels.push_back('"');
    Series(out, shards, "verify_total", labels,
           [i](const ShardMetrics& m) { return m.verify[i].Value(); });
  }

  struct Simple {
    std::string_view name;
    std::string_view type;
    std::string_view help;
    const concurrent::OwnedCounter ShardMetrics::*member;
  };
  static constexpr Simple kSimple[] = {
      {"verify_cache_hits_total", "counter", "Verified-token cache hits.", &ShardMetrics::cache_hits},
      {"verify_cache_misses_total", "counter", "Verified-token cache misses.",
       &ShardMetrics::cache_misses},
      {"claim_headers_omitted_total", "counter",
       "Configured claim headers left out because the value was unsafe in a header.",
       &ShardMetrics::claim_headers_omitted},
      {"tls_handshakes_total", "counter", "TLS handshakes completed (full and resumed).",
       &ShardMetrics::tls_handshakes},
      {"tls_handshakes_resumed_total", "counter", "TLS handshakes that resumed a session.",
       &ShardMetrics::tls_resumed},
      {"tls_handshake_failures_total", "counter", "TLS handshakes that failed.",
       &ShardMetrics::tls_failures},
      {"connections_accepted_total", "counter", "Connections accepted.", &ShardMetrics::accepted},
      {"connections_rejected_total", "counter",
       "Connections closed at once because the shard's connection limit was reached.",
       &ShardMetrics::rejected},
      {"recv_buffers_exhausted_total", "counter",
       "Receives that found the provided-buffer ring empty (re-armed as buffers came back).",
       &ShardMetrics::recv_starved},
  };
  for (const Simple& s : kSimple) {
    Family(out, s.name, s.type, s.help);
    Series(out, shards, s.name, "", [&s](const ShardMetrics& m) { return (m.*(s.member)).Value(); });
  }

  Family(out, "connections_timed_out_total", "counter",
         "Connections closed by a timeout, by phase.");
  Series(out, shards, "connections_timed_out_total", "phase=\"header\"",
         [](const ShardMetrics& m) { return m.header_timeouts.Value(); });
  Series(out, shards, "connections_timed_out_total", "phase=\"idle\"",
         [](const ShardMetrics& m) { return m.idle_timeouts.Value(); });

  Family(out, "open_connections", "gauge", "Connections open now.");
  Series(out, shards, "open_connections", "", [](const ShardMetrics& m) {
    const int64_t v = m.open_connections.Value();
    return v < 0 ? uint64_t{0} : static_cast<uint64_t>(v);
  });

  Family(out, "shards", "gauge", "Shards (threads with their own io_uring) serving.");
  Sample(out, "shards", -1, "", shards.size());
  Family(out, "ready", "gauge", "1 when every shard serves and the server is not draining.");
  Sample(out, "ready", -1, "", ready ? 1 : 0);
}

}  // namespace ringward::server
