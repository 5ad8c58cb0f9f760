// ringward-load: the load generator bundled with ringward. See options.cc for --help and
// worker.h for how requests are sent and timed.
#include <signal.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "load/cpu_time.h"
#include "load/options.h"
#include "load/report.h"
#include "load/tls_client.h"
#include "load/worker.h"
#include "load/workload.h"

namespace ringward::load {
namespace {

constexpr int64_t kStartDelayNs = 2'000'000;  // lets every worker enter its loop before t0

// WorkerSlot is what one worker thread hands back; each thread writes only its own slot, and
// the main thread reads it after the latch or join that orders the two.
struct WorkerSlot {
  absl::Status status;
  int ready = 0;
  std::string last_error;
  Stats stats;
};

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "ringward-load: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

uint64_t Share(uint64_t total, int parts, int i) {
  const uint64_t p = static_cast<uint64_t>(parts);
  return total / p + (static_cast<uint64_t>(i) < total % p ? 1 : 0);
}

int Main(int argc, char** argv) {
  absl::StatusOr<Options> parsed = ParseOptions(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "ringward-load: %s (see --help)\n",
                 std::string(parsed.status().message()).c_str());
    return 2;
  }
  const Options& o = *parsed;
  if (o.help) {
    std::fwrite(HelpText().data(), 1, HelpText().size(), stdout);
    return 0;
  }
  absl::StatusOr<Workload> workload = Workload::Create(o);
  if (!workload.ok()) {
    std::fprintf(stderr, "ringward-load: %s\n", std::string(workload.status().message()).c_str());
    return 1;
  }
  std::optional<TlsClientContext> tls;
  for (const Url& u : workload->targets()) {
    if (u.tls && !tls.has_value()) {
      absl::StatusOr<TlsClientContext> ctx = TlsClientContext::Create(o.cacert_path);
      if (!ctx.ok()) {
        std::fprintf(stderr, "ringward-load: %s\n", std::string(ctx.status().message()).c_str());
        return 1;
      }
      tls.emplace(*std::move(ctx));
    }
  }

  // SIGINT/SIGTERM are taken by the main thread only (sigtimedwait below), which tells the
  // workers to stop through an eventfd each of them polls on its ring.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const int stop_fd = eventfd(0, EFD_CLOEXEC);
  if (stop_fd < 0) {
    std::perror("ringward-load: eventfd");
    return 1;
  }

  const int threads = o.threads;
  const double duration_s =
      o.open_loop() && o.requests > 0 && !o.duration_given ? static_cast<double>(o.requests) / o.rate
                                                           : o.duration_s;
  std::vector<WorkerSlot> slots(static_cast<size_t>(threads));
  std::latch connected(threads);
  std::latch go(1);
  std::latch done(threads);
  int64_t t0_ns = 0;
  bool abort_run = false;
  const int64_t connect_deadline =
      MonotonicNs() + std::max<int64_t>(int64_t{o.timeout_ms} * 1'000'000, 1'000'000'000);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    WorkerPlan plan;
    plan.thread = i;
    plan.threads = threads;
    plan.connections = static_cast<int>(Share(static_cast<uint64_t>(o.connections), threads, i));
    plan.pipeline = o.pipeline;
    plan.rate = o.rate / threads;
    plan.max_requests = o.requests == 0 ? 0 : Share(o.requests, threads, i);
    plan.duration_ns = static_cast<int64_t>(duration_s * 1e9);
    plan.timeout_ns = int64_t{o.timeout_ms} * 1'000'000;
    plan.seed = o.seed;
    plan.stop_fd = stop_fd;
    if (o.requests != 0 && plan.max_requests == 0) {
      // More threads than requests: this worker only idles.
      plan.duration_ns = 0;
    }
    pool.emplace_back([&, i, plan] {
      WorkerSlot& slot = slots[static_cast<size_t>(i)];
      Worker worker(*workload, tls.has_value() ? &*tls : nullptr, plan);
      slot.status = worker.Connect(connect_deadline);
      slot.ready = worker.ready_connections();
      slot.last_error = worker.last_error();
      connected.count_down();
      go.wait();
      if (slot.status.ok() && !abort_run) {
        worker.Run(t0_ns);
      }
      slot.stats = std::move(worker.stats());
      done.count_down();
    });
  }
  connected.wait();
  int ready = 0;
  std::string why;
  for (const WorkerSlot& s : slots) {
    if (!s.status.ok()) {
      why = std::string(s.status.message());
    } else if (why.empty() && !s.last_error.empty()) {
      why = s.last_error;
    }
    ready += s.status.ok() ? s.ready : 0;
  }
  if (ready == 0) {
    abort_run = true;
    go.count_down();
    for (std::thread& t : pool) {
      t.join();
    }
    std::fprintf(stderr, "ringward-load: no connection to %s succeeded: %s\n", o.url_text.c_str(),
                 why.empty() ? "timed out" : why.c_str());
    return 1;
  }
  if (ready < o.connections && !o.quiet) {
    std::fprintf(stderr, "ringward-load: only %d of %d connections opened (%s); going on\n", ready,
                 o.connections, why.c_str());
  }

  double server_cpu_before = 0;
  bool has_server_cpu = !o.server_pids.empty();
  if (has_server_cpu) {
    absl::StatusOr<double> c = ProcessesCpuSeconds(o.server_pids);
    if (!c.ok()) {
      std::fprintf(stderr, "ringward-load: %s\n", std::string(c.status().message()).c_str());
      has_server_cpu = false;
    } else {
      server_cpu_before = *c;
    }
  }
  const double client_cpu_before = SelfCpuSeconds();
  t0_ns = MonotonicNs() + kStartDelayNs;
  go.count_down();

  int interrupts = 0;
  while (!done.try_wait()) {
    const timespec step{0, 50'000'000};
    siginfo_t info;
    if (sigtimedwait(&signals, &info, &step) > 0) {
      if (++interrupts > 1) {
        std::fprintf(stderr, "ringward-load: interrupted twice, exiting without a report\n");
        _exit(130);
      }
      std::fprintf(stderr, "ringward-load: stopping (again to quit at once)\n");
      const uint64_t one = 1;
      (void)!write(stop_fd, &one, sizeof(one));
    }
  }
  for (std::thread& t : pool) {
    t.join();
  }
  close(stop_fd);

  Report report;
  report.client_cpu_s = SelfCpuSeconds() - client_cpu_before;
  if (has_server_cpu) {
    absl::StatusOr<double> c = ProcessesCpuSeconds(o.server_pids);
    if (c.ok()) {
      report.server_cpu_s = *c - server_cpu_before;
      report.has_server_cpu = true;
    } else {
      std::fprintf(stderr, "ringward-load: %s\n", std::string(c.status().message()).c_str());
    }
  }
  report.server_pids = o.server_pids;
  report.url = o.url_text;
  report.open_loop = o.open_loop();
  report.target_rate = o.rate;
  report.threads = threads;
  report.connections = o.connections;
  report.pipeline = o.pipeline;
  report.duration_s = duration_s;
  report.max_requests = o.requests;
  report.timeout_ms = o.timeout_ms;
  report.workload = o.workload;
  report.mix = o.mix;
  report.pool = workload->pool_stats();
  report.batch = o.batch;
  for (WorkerSlot& s : slots) {
    report.stats.Merge(s.stats);
  }
  report.window_s = static_cast<double>(report.stats.window_ns) / 1e9;
  report.elapsed_s =
      static_cast<double>(std::max(report.stats.last_completion_ns, report.stats.window_ns)) / 1e9;

  if (!o.quiet) {
    const std::string text = FormatText(report);
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  bool ok = true;
  if (!o.json_path.empty()) {
    ok = WriteFile(o.json_path, FormatJson(report)) && ok;
  }
  if (!o.svg_path.empty()) {
    ok = WriteFile(o.svg_path, FormatSvg(report)) && ok;
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace ringward::load

int main(int argc, char** argv) { return ringward::load::Main(argc, argv); }
