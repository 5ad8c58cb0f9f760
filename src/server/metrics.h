// server/metrics.h: each shard's counters, and the Prometheus text rendering of all of them.
//
// A shard owns one ShardMetrics, aligned to a cache line so no other shard's writes land on
// its lines, and is the only thread that writes it (concurrent::OwnedCounter: plain loads and
// stores, relaxed). Whichever shard serves GET /metrics reads every shard's struct with relaxed
// loads and renders each series once per shard (label shard="N") and once in total (no shard
// label). The ShardMetrics array is owned by the Server and outlives every shard.
//
// Series (all prefixed ringward_):
//   http_requests_total{route,status}          requests answered, by route and status
//   http_parse_errors_total{reason}            malformed requests by ParseStatusName
//   verify_total{reason}                       token verifications by VerifyReasonName, plus
//                                              "missing_token" and "unsafe_claim"
//   verify_cache_hits_total, verify_cache_misses_total
//   claim_headers_omitted_total                configured claim headers left out (unsafe value)
//   tls_handshakes_total, tls_handshakes_resumed_total, tls_handshake_failures_total
//   connections_accepted_total, connections_rejected_total (per-shard limit reached)
//   recv_buffers_exhausted_total               receives that found no provided buffer
//   connections_timed_out_total{phase="header"|"idle"}
//   open_connections                           gauge
//   shards, ready                              gauges (no per-shard series)
#ifndef RINGWARD_SERVER_METRICS_H_
#define RINGWARD_SERVER_METRICS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "concurrent/owned_counter.h"
#include "ringward/net/http/request_parser.h"
#include "ringward/token/verify_reason.h"
#include "server/router.h"

namespace ringward::server {

// The HTTP statuses counted individually; anything else lands in the last slot ("other").
inline constexpr std::array<int, 15> kCountedStatuses = {200, 400, 401, 403, 404, 405, 408, 413,
                                                         415, 431, 500, 501, 503, 505, 0};
inline constexpr size_t kStatusSlots = kCountedStatuses.size();

// StatusSlot maps a status code to its index in kCountedStatuses.
size_t StatusSlot(int status);

// Verify outcomes: every VerifyReason, then the two the HTTP layer adds.
inline constexpr size_t kOutcomeMissingToken = token::kVerifyReasonCount;
inline constexpr size_t kOutcomeUnsafeClaim = token::kVerifyReasonCount + 1;
inline constexpr size_t kVerifyOutcomeCount = token::kVerifyReasonCount + 2;

// VerifyOutcomeName returns the metrics label for outcome index |i|.
std::string_view VerifyOutcomeName(size_t i);

struct alignas(64) ShardMetrics {
  concurrent::OwnedCounter requests[kRouteCount][kStatusSlots];
  concurrent::OwnedCounter parse_errors[http::kParseStatusCount];
  concurrent::OwnedCounter verify[kVerifyOutcomeCount];
  concurrent::OwnedCounter cache_hits;
  concurrent::OwnedCounter cache_misses;
  concurrent::OwnedCounter claim_headers_omitted;
  concurrent::OwnedCounter tls_handshakes;
  concurrent::OwnedCounter tls_resumed;
  concurrent::OwnedCounter tls_failures;
  concurrent::OwnedCounter accepted;
  concurrent::OwnedCounter rejected;
  concurrent::OwnedCounter recv_starved;
  concurrent::OwnedCounter header_timeouts;
  concurrent::OwnedCounter idle_timeouts;
  concurrent::OwnedGauge open_connections;

  void CountRequest(Route route, int status) {
    requests[static_cast<size_t>(route)][StatusSlot(status)].Inc();
  }
};

// RenderMetrics appends the Prometheus text exposition (format 0.0.4) of |shards| to |*out|.
// |ready| is the value of the ringward_ready gauge.
void RenderMetrics(std::span<const ShardMetrics> shards, bool ready, std::string* out);

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_METRICS_H_
