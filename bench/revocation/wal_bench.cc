// Benchmarks for the write-ahead log: durable appends per second with group commit, next to the
// raw primitive (one write + fdatasync per record) so the batching gain is a ratio, and CRC32C.
//
// Runs on the real filesystem: a temp dir under $RINGWARD_BENCH_DIR, else $TMPDIR, else /tmp
// (check that it is not tmpfs, where fdatasync costs nothing).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "benchmark/benchmark.h"
#include "revocation/wal_crc32c.h"
#include "ringward/revocation/wal.h"

namespace ringward::revocation {
namespace {

class BenchDir {
 public:
  BenchDir() {
    const char* base = getenv("RINGWARD_BENCH_DIR");
    if (base == nullptr) {
      base = getenv("TMPDIR");
    }
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/wal_bench.XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::abort();
    }
    path_ = pattern;
  }
  ~BenchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A revocation record is small: a jti or subject plus a time.
const std::string& RevocationPayload() {
  static const std::string* payload = new std::string(64, 'r');
  return *payload;
}

// BM_Fdatasync_Raw: the primitive without group commit, one 84-byte write + fdatasync per record.
void BM_Fdatasync_Raw(benchmark::State& state) {
  BenchDir dir;
  std::string path = dir.path() + "/raw";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  std::string record(84, 'r');
  for (auto _ : state) {
    if (::write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size()) ||
        ::fdatasync(fd) != 0) {
      state.SkipWithError("write/fdatasync failed");
      break;
    }
  }
  ::close(fd);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Fdatasync_Raw)->UseRealTime()->MinTime(2.0);

// BM_Wal_DurableAppend/N: N appends outstanding at any time (as the admin API's shards would
// have), each answered only once durable. Items are durable revocations.
void BM_Wal_DurableAppend(benchmark::State& state) {
  const int64_t window = state.range(0);
  BenchDir dir;
  absl::StatusOr<std::unique_ptr<WriteAheadLog>> log = WriteAheadLog::Open(dir.path(), {});
  if (!log.ok()) {
    state.SkipWithError("open failed");
    return;
  }
  std::mutex mu;
  std::condition_variable cv;
  int64_t in_flight = 0;
  bool failed = false;
  for (auto _ : state) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight < window; });
      ++in_flight;
    }
    (*log)->Append(1, RevocationPayload(), [&](absl::StatusOr<uint64_t> lsn) {
      std::lock_guard<std::mutex> lock(mu);
      failed |= !lsn.ok();
      --in_flight;
      cv.notify_one();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return in_flight == 0; });
  }
  if (failed) {
    state.SkipWithError("append failed");
  }
  WalStatus status = (*log)->GetStatus();
  state.SetItemsProcessed(state.iterations());
  state.counters["records_per_sync"] =
      status.syncs == 0 ? 0.0 : static_cast<double>(status.records) / status.syncs;
  state.counters["last_sync_us"] = static_cast<double>(status.last_sync_micros);
}
BENCHMARK(BM_Wal_DurableAppend)
    ->Arg(1)
    ->Arg(16)
    ->Arg(64)
    ->Arg(256)
    ->Arg(1024)
    ->UseRealTime()
    ->MinTime(2.0);

// BM_Wal_AppendAndWait: N threads each blocking on their own append (tools, tests).
WriteAheadLog* g_log = nullptr;
BenchDir* g_dir = nullptr;
void BM_Wal_AppendAndWait(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_dir = new BenchDir();
    g_log = WriteAheadLog::Open(g_dir->path(), {}).value().release();
  }
  for (auto _ : state) {
    if (!g_log->AppendAndWait(1, RevocationPayload()).ok()) {
      state.SkipWithError("append failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    delete g_log;
    delete g_dir;
    g_log = nullptr;
  }
}
BENCHMARK(BM_Wal_AppendAndWait)->Threads(1)->Threads(16)->Threads(64)->UseRealTime()->MinTime(2.0);

void BM_Crc32c(benchmark::State& state, bool hardware) {
  if (hardware && !internal::CpuHasSse42()) {
    state.SkipWithError("no SSE4.2");
    return;
  }
  std::string data(static_cast<size_t>(state.range(0)), 'c');
  for (auto _ : state) {
    uint32_t crc = hardware ? internal::Crc32cExtendSse42(0, data.data(), data.size())
                            : internal::Crc32cExtendPortable(0, data.data(), data.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK_CAPTURE(BM_Crc32c, Sse42, true)->Arg(84)->Arg(4096);
BENCHMARK_CAPTURE(BM_Crc32c, Portable, false)->Arg(84)->Arg(4096);

}  // namespace
}  // namespace ringward::revocation

BENCHMARK_MAIN();
