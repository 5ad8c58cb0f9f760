// bench/load/report.h: what ringward-load prints after a run: the table for people (stdout),
// JSON for machines (--json) and an SVG chart (--svg) of the latency distribution and the
// throughput over time.
//
// A Report holds the merged Stats of all workers plus the run's settings and the CPU samples;
// the formatters are pure functions of it, so tests can feed them a hand-made Report.
//
// Thread-compatible values and pure functions.
#ifndef RINGWARD_BENCH_LOAD_REPORT_H_
#define RINGWARD_BENCH_LOAD_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "load/options.h"
#include "load/stats.h"
#include "load/workload.h"

namespace ringward::load {

struct Report {
  // Settings, as run.
  std::string url;
  bool open_loop = false;
  double target_rate = 0;
  int threads = 1;
  int connections = 1;
  int pipeline = 1;
  double duration_s = 0;     // the --duration asked for
  uint64_t max_requests = 0;
  int timeout_ms = 0;
  std::string workload;      // "static", "verify", "mix", ...
  std::vector<MixEntry> mix;
  PoolStats pool;
  int batch = 0;

  // Results.
  Stats stats;
  double window_s = 0;   // how long requests were issued
  double elapsed_s = 0;  // t0 to the last answer (at least window_s)

  // CPU time over the run: the server's (--server-pid) and this process's.
  std::vector<int> server_pids;
  bool has_server_cpu = false;
  double server_cpu_s = 0;
  double client_cpu_s = 0;

  double ThroughputRps() const;  // answers per second of elapsed time
  double SentRps() const;        // requests sent inside the window, per second of window
  uint64_t BulkTokens() const;    // tokens carried by answered bulk requests
  double ServerCpuUsPerRequest() const;
  double ClientCpuUsPerRequest() const;
};

// FormatDuration renders nanoseconds for people: "850ns", "612.0us", "12.34ms", "1.234s".
std::string FormatDuration(uint64_t ns);

// FormatText is the table printed on stdout.
std::string FormatText(const Report& report);

// FormatJson is the --json document (one object; see the field list in the --json section of
// docs or the code: config, result, latency_us, ... per_second).
std::string FormatJson(const Report& report);

// FormatSvg is the --svg chart: a standalone SVG document with no scripts or external
// references.
std::string FormatSvg(const Report& report);

}  // namespace ringward::load

#endif  // RINGWARD_BENCH_LOAD_REPORT_H_
