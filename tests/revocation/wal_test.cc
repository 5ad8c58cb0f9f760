// Tests for the write-ahead log (ringward/revocation/wal.h, wal_tools.h, wal_file_layer.h and
// src/revocation/wal_format.h). The corruption tests are part of the format's definition
// (wal_format.md): torn tails at every byte, every single-bit flip, implausible lengths, gaps;
// so are the snapshot-install tests: a crash or an I/O error at every file operation of an
// install leaves the old log or the new one.
#include "ringward/revocation/wal.h"

#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "revocation/wal_crc32c.h"
#include "revocation/wal_format.h"
#include "ringward/revocation/wal_file_layer.h"
#include "ringward/revocation/wal_tools.h"

namespace ringward::revocation {
namespace {

using ::testing::HasSubstr;

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TEST_TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/wal_test.XXXXXX";
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteWholeFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::string SegmentPath(const std::string& dir, uint64_t first_lsn) {
  return dir + "/" + wal_format::SegmentFileName(first_lsn);
}

std::vector<std::string> SegmentNames(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    uint64_t lsn;
    if (wal_format::ParseSegmentFileName(entry.path().filename().string(), &lsn)) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::unique_ptr<WriteAheadLog> MustOpen(const std::string& dir, WalOptions options = {},
                                        FileLayer* files = nullptr) {
  absl::StatusOr<std::unique_ptr<WriteAheadLog>> log = WriteAheadLog::Open(dir, options, files);
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? std::move(*log) : nullptr;
}

uint64_t MustAppend(WriteAheadLog& log, uint16_t type, std::string payload) {
  absl::StatusOr<uint64_t> lsn = log.AppendAndWait(type, std::move(payload));
  EXPECT_TRUE(lsn.ok()) << lsn.status();
  return lsn.ok() ? *lsn : 0;
}

// ReadAll returns every durable record from |from|.
std::vector<WalRecord> ReadAll(WriteAheadLog& log, uint64_t from) {
  std::vector<WalRecord> out;
  absl::StatusOr<std::unique_ptr<WalReader>> reader = log.NewReader(from);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) {
    return out;
  }
  WalRecord record;
  for (;;) {
    absl::StatusOr<bool> more = (*reader)->Next(&record);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) {
      break;
    }
    out.push_back(record);
  }
  return out;
}

std::string Payload(int i, size_t size = 12) {
  std::string s = "record-" + std::to_string(i) + "-";
  s.resize(size, static_cast<char>('a' + i % 26));
  return s;
}

// ---- CRC32C ----

TEST(Crc32cTest, Rfc3720Vectors) {
  // RFC 3720 section B.4, plus the customary "123456789" check value.
  std::string zeros(32, '\0');
  std::string ones(32, '\xff');
  std::string ascending;
  std::string descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(31 - i));
  }
  const unsigned char kReadPdu[48] = {0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
                                      0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  std::string pdu(reinterpret_cast<const char*>(kReadPdu), sizeof(kReadPdu));
  struct Vector {
    std::string data;
    uint32_t crc;
  };
  const std::vector<Vector> vectors = {{zeros, 0x8A9136AAu},
                                       {ones, 0x62A8AB43u},
                                       {ascending, 0x46DD794Eu},
                                       {descending, 0x113FDB5Cu},
                                       {pdu, 0xD9963A56u},
                                       {"123456789", 0xE3069283u},
                                       {"", 0u}};
  for (const Vector& v : vectors) {
    EXPECT_EQ(internal::Crc32cExtendPortable(0, v.data.data(), v.data.size()), v.crc);
    if (internal::CpuHasSse42()) {
      EXPECT_EQ(internal::Crc32cExtendSse42(0, v.data.data(), v.data.size()), v.crc);
    }
    EXPECT_EQ(Crc32c(v.data), v.crc);
  }
}

TEST(Crc32cTest, ExtendEqualsWholeAndImplementationsAgree) {
  std::string data;
  uint32_t seed = 12345;
  for (int i = 0; i < 1000; ++i) {
    seed = seed * 1103515245u + 12345u;
    data.push_back(static_cast<char>(seed >> 24));
  }
  const uint32_t whole = Crc32c(data);
  for (size_t split = 0; split <= data.size(); split += 37) {
    uint32_t part = Crc32cExtend(0, data.data(), split);
    EXPECT_EQ(Crc32cExtend(part, data.data() + split, data.size() - split), whole);
    EXPECT_EQ(internal::Crc32cExtendPortable(0, data.data(), split), part);
  }
}

// ---- Record framing ----

TEST(WalFormatTest, RecordFramingRoundTrips) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{1000}, size_t{wal_format::kMaxPayloadSize}}) {
    std::string payload(size, '\0');
    for (size_t i = 0; i < size; ++i) {
      payload[i] = static_cast<char>(i * 7 + 3);
    }
    std::string framed;
    wal_format::AppendRecord(&framed, 42 + size, 0xABCD, payload);
    ASSERT_EQ(framed.size(), wal_format::EncodedRecordSize(size));
    wal_format::RecordView view;
    ASSERT_EQ(wal_format::ParseRecord(framed, &view), wal_format::ParseResult::kOk) << size;
    EXPECT_EQ(view.lsn, 42 + size);
    EXPECT_EQ(view.type, 0xABCD);
    EXPECT_EQ(view.flags, 0);
    EXPECT_EQ(view.payload, payload);
    // Every proper prefix is incomplete, never valid.
    if (size <= 1000) {
      for (size_t cut = 0; cut < framed.size(); ++cut) {
        EXPECT_EQ(wal_format::ParseRecord(std::string_view(framed).substr(0, cut), &view),
                  wal_format::ParseResult::kTruncated);
      }
    }
  }
}

TEST(WalFormatTest, LayoutIsLittleEndianAsSpecified) {
  std::string framed;
  wal_format::AppendRecord(&framed, 0x0102030405060708ull, 0x0A0B, "xyz");
  ASSERT_EQ(framed.size(), 23u);
  EXPECT_EQ(framed.substr(0, 4), std::string("\x03\x00\x00\x00", 4));                  // length
  EXPECT_EQ(framed.substr(4, 2), std::string("\x0B\x0A", 2));                          // type
  EXPECT_EQ(framed.substr(6, 2), std::string("\x00\x00", 2));                          // flags
  EXPECT_EQ(framed.substr(8, 8), std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));  // lsn
  EXPECT_EQ(framed.substr(16, 3), "xyz");
  EXPECT_EQ(wal_format::GetU32(framed.data() + 19), Crc32c(std::string_view(framed).substr(0, 19)));

  char header[wal_format::kFileHeaderSize];
  wal_format::EncodeFileHeader(wal_format::kSegmentMagic, 7, header);
  EXPECT_EQ(std::string(header, 8), "RWWALSEG");
  uint64_t lsn = 0;
  EXPECT_TRUE(wal_format::DecodeFileHeader(std::string_view(header, sizeof(header)),
                                           wal_format::kSegmentMagic, &lsn)
                  .ok());
  EXPECT_EQ(lsn, 7u);
  header[8] = 2;  // version 2, checksum recomputed: refused as a newer format, not as damage
  wal_format::PutU32(header + 28, Crc32c(std::string_view(header, 28)));
  absl::Status status = wal_format::DecodeFileHeader(std::string_view(header, sizeof(header)),
                                                     wal_format::kSegmentMagic, &lsn);
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("version 2"));
}

TEST(WalFormatTest, FileNamesSortByLsnAndParseStrictly) {
  EXPECT_EQ(wal_format::SegmentFileName(1), "wal-00000000000000000001.log");
  EXPECT_EQ(wal_format::SnapshotFileName(42), "snapshot-00000000000000000042.snap");
  EXPECT_LT(wal_format::SegmentFileName(9), wal_format::SegmentFileName(10));
  uint64_t lsn = 0;
  EXPECT_TRUE(wal_format::ParseSegmentFileName("wal-18446744073709551615.log", &lsn));
  EXPECT_EQ(lsn, UINT64_MAX);
  EXPECT_FALSE(wal_format::ParseSegmentFileName("wal-18446744073709551616.log", &lsn));
  EXPECT_FALSE(wal_format::ParseSegmentFileName("wal-0000000000000000001.log", &lsn));
  EXPECT_FALSE(wal_format::ParseSegmentFileName("wal-00000000000000000001.log.bak", &lsn));
  EXPECT_FALSE(wal_format::ParseSegmentFileName("wal-0000000000000000000x.log", &lsn));
}

// ---- Appending and reading ----

TEST(WalTest, AppendsRoundTripThroughReopen) {
  TempDir dir;
  const std::vector<std::string> payloads = {"", "x", std::string(100000, 'L'), Payload(3)};
  {
    auto log = MustOpen(dir.path());
    ASSERT_NE(log, nullptr);
    EXPECT_TRUE(log->recovery_report().removed_files.empty());
    EXPECT_EQ(log->recovery_report().last_lsn, 0u);
    for (size_t i = 0; i < payloads.size(); ++i) {
      EXPECT_EQ(MustAppend(*log, static_cast<uint16_t>(i + 1), payloads[i]), i + 1);
    }
    EXPECT_EQ(log->durable_lsn(), payloads.size());
  }
  auto log = MustOpen(dir.path());
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->recovery_report().records_recovered, payloads.size());
  EXPECT_FALSE(log->recovery_report().truncated);
  std::vector<WalRecord> records = ReadAll(*log, 1);
  ASSERT_EQ(records.size(), payloads.size());
  for (size_t i = 0; i < payloads.size(); ++i) {
    EXPECT_EQ(records[i].lsn, i + 1);
    EXPECT_EQ(records[i].type, i + 1);
    EXPECT_EQ(records[i].payload, payloads[i]);
  }
  EXPECT_EQ(MustAppend(*log, 9, "after reopen"), payloads.size() + 1);
}

TEST(WalTest, UnknownTypesArePassedThrough) {
  TempDir dir;
  {
    auto log = MustOpen(dir.path());
    MustAppend(*log, 0xBEEF, "from a newer ringward");
    MustAppend(*log, 0xFFFF, "");
  }
  auto log = MustOpen(dir.path());
  std::vector<WalRecord> records = ReadAll(*log, 1);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].type, 0xBEEF);
  EXPECT_EQ(records[0].payload, "from a newer ringward");
  EXPECT_EQ(records[1].type, 0xFFFF);
}

TEST(WalTest, RejectsReservedTypeAndOversizedPayloadWithoutHarm) {
  TempDir dir;
  auto log = MustOpen(dir.path());
  absl::StatusOr<uint64_t> zero = log->AppendAndWait(0, "x");
  EXPECT_TRUE(absl::IsInvalidArgument(zero.status())) << zero.status();
  absl::StatusOr<uint64_t> big =
      log->AppendAndWait(1, std::string(wal_format::kMaxPayloadSize + 1, 'b'));
  EXPECT_TRUE(absl::IsInvalidArgument(big.status())) << big.status();
  EXPECT_TRUE(log->healthy());
  EXPECT_EQ(MustAppend(*log, 1, "fine"), 1u);  // rejected appends took no LSN
}

TEST(WalTest, CallbackGetsLsnOnlyAfterDurable) {
  TempDir dir;
  auto log = MustOpen(dir.path());
  std::atomic<int> answered{0};
  std::vector<uint64_t> lsns(20);
  for (int i = 0; i < 20; ++i) {
    log->Append(1, Payload(i), [&, i](absl::StatusOr<uint64_t> lsn) {
      ASSERT_TRUE(lsn.ok());
      EXPECT_GE(log->durable_lsn(), *lsn);  // published before the callback runs
      lsns[static_cast<size_t>(i)] = *lsn;
      answered.fetch_add(1);
    });
  }
  EXPECT_TRUE(log->WaitForDurable(20, std::chrono::seconds(10)));
  while (answered.load() < 20) {
    std::this_thread::yield();
  }
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(lsns[static_cast<size_t>(i)], static_cast<uint64_t>(i + 1));  // queue order
  }
}

TEST(WalTest, SecondOpenOfTheSameDirectoryIsRefused) {
  TempDir dir;
  auto log = MustOpen(dir.path());
  absl::StatusOr<std::unique_ptr<WriteAheadLog>> second = WriteAheadLog::Open(dir.path(), {});
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
}

TEST(WalTest, StatusReportsCounters) {
  TempDir dir;
  PosixFileLayer posix;
  FaultInjectingFileLayer faults(&posix);
  auto log = MustOpen(dir.path(), {}, &faults);
  MustAppend(*log, 1, "abc");
  MustAppend(*log, 1, "defg");
  WalStatus status = log->GetStatus();
  EXPECT_EQ(status.last_lsn, 2u);
  EXPECT_EQ(status.durable_lsn, 2u);
  EXPECT_EQ(status.oldest_lsn, 1u);
  EXPECT_EQ(status.records, 2u);
  EXPECT_EQ(status.syncs, 2u);
  EXPECT_EQ(status.bytes, wal_format::EncodedRecordSize(3) + wal_format::EncodedRecordSize(4));
  EXPECT_TRUE(status.healthy);
  ASSERT_EQ(status.segments.size(), 1u);
  EXPECT_EQ(status.segments[0].name, "wal-00000000000000000001.log");
  EXPECT_EQ(status.segments[0].bytes, wal_format::kFileHeaderSize + status.bytes);
  EXPECT_EQ(fs::file_size(SegmentPath(dir.path(), 1)), status.segments[0].bytes);
}

// ---- Group commit ----

TEST(WalGroupCommitTest, ConcurrentAppendersShareFdatasyncs) {
  TempDir dir;
  PosixFileLayer posix;
  FaultInjectingFileLayer faults(&posix);
  faults.SetSyncDelayMicros(2000);  // a slow disk: appends pile up while a sync is in flight
  auto log = MustOpen(dir.path(), {}, &faults);
  const int64_t syncs_before = faults.syncs();
  constexpr int kThreads = 16;
  constexpr int kPerThread = 40;
  std::vector<std::vector<uint64_t>> lsns(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<uint64_t> lsn = log->AppendAndWait(1, Payload(t * 1000 + i));
        ASSERT_TRUE(lsn.ok()) << lsn.status();
        lsns[static_cast<size_t>(t)].push_back(*lsn);
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  constexpr int kRecords = kThreads * kPerThread;
  std::set<uint64_t> all;
  for (const auto& per_thread : lsns) {
    all.insert(per_thread.begin(), per_thread.end());
  }
  ASSERT_EQ(all.size(), static_cast<size_t>(kRecords));
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), static_cast<uint64_t>(kRecords));
  const int64_t syncs = faults.syncs() - syncs_before;
  EXPECT_LE(syncs, kRecords / 4) << "group commit did not batch: " << syncs << " fdatasyncs for "
                                 << kRecords << " records";
  EXPECT_EQ(log->GetStatus().syncs, static_cast<uint64_t>(syncs));
  EXPECT_EQ(ReadAll(*log, 1).size(), static_cast<size_t>(kRecords));
}

// ---- Failed fdatasync and writes (fsyncgate) ----

TEST(WalSyncFailureTest, FailedFdatasyncStopsAcknowledgingForever) {
  TempDir dir;
  PosixFileLayer posix;
  FaultInjectingFileLayer faults(&posix);
  {
    auto log = MustOpen(dir.path(), {}, &faults);
    for (int i = 1; i <= 3; ++i) {
      EXPECT_EQ(MustAppend(*log, 1, Payload(i)), static_cast<uint64_t>(i));
    }
    faults.FailSyncAt(1);
    absl::StatusOr<uint64_t> failed = log->AppendAndWait(1, Payload(4));
    ASSERT_FALSE(failed.ok());
    EXPECT_TRUE(absl::IsUnavailable(failed.status())) << failed.status();
    EXPECT_THAT(std::string(failed.status().message()), HasSubstr("injected fdatasync failure"));
    EXPECT_THAT(std::string(failed.status().message()), HasSubstr("will not retry"));
    EXPECT_FALSE(log->healthy());
    EXPECT_EQ(log->durable_lsn(), 3u);

    // The next fdatasync would succeed (the fault was one-shot, as on Linux): the log must not
    // try it, and must not acknowledge anything again.
    const int64_t syncs = faults.syncs();
    std::atomic<int> errors{0};
    for (int i = 5; i <= 10; ++i) {
      log->Append(1, Payload(i), [&](absl::StatusOr<uint64_t> lsn) {
        EXPECT_FALSE(lsn.ok());
        errors.fetch_add(1);
      });
    }
    absl::StatusOr<uint64_t> later = log->AppendAndWait(1, Payload(11));
    EXPECT_TRUE(absl::IsUnavailable(later.status())) << later.status();
    EXPECT_EQ(errors.load(), 6);
    EXPECT_EQ(faults.syncs(), syncs);
    EXPECT_EQ(log->durable_lsn(), 3u);
    WalStatus status = log->GetStatus();
    EXPECT_FALSE(status.healthy);
    EXPECT_THAT(status.error, HasSubstr("stopped acknowledging"));
    EXPECT_FALSE(log->WaitForDurable(4, std::chrono::milliseconds(10)));
  }
  // Power cut: what was never synced is gone. Exactly the acknowledged records survive.
  ASSERT_TRUE(faults.Crash().ok());
  auto log = MustOpen(dir.path());
  std::vector<WalRecord> records = ReadAll(*log, 1);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2].payload, Payload(3));
  EXPECT_TRUE(log->healthy());
}

TEST(WalSyncFailureTest, FailureWithManyAppendsInFlightAcksOnlyWhatWasSynced) {
  TempDir dir;
  PosixFileLayer posix;
  FaultInjectingFileLayer faults(&posix);
  std::set<uint64_t> acked;
  std::mutex mu;
  std::atomic<int> answered{0};
  auto record_answer = [&](absl::StatusOr<uint64_t> lsn) {
    if (lsn.ok()) {
      std::lock_guard<std::mutex> lock(mu);
      acked.insert(*lsn);
    }
    answered.fetch_add(1);
  };
  constexpr int kWave = 200;
  {
    auto log = MustOpen(dir.path(), {}, &faults);
    faults.SetSyncDelayMicros(300);
    // Wave 1 is acknowledged in a few batches; wave 2's first batch fails its fdatasync while
    // the rest of the wave is still being queued.
    for (int i = 0; i < kWave; ++i) {
      log->Append(1, Payload(i), record_answer);
    }
    ASSERT_TRUE(log->WaitForDurable(kWave, std::chrono::seconds(10)));
    faults.FailSyncAt(1);
    for (int i = kWave; i < 2 * kWave; ++i) {
      log->Append(1, Payload(i), record_answer);
    }
    while (answered.load() < 2 * kWave) {
      std::this_thread::yield();
    }
    EXPECT_FALSE(log->healthy());
    EXPECT_EQ(faults.failed_syncs(), 1);
    EXPECT_EQ(acked.size(), static_cast<size_t>(kWave));
    EXPECT_EQ(log->durable_lsn(), static_cast<uint64_t>(kWave));
  }
  ASSERT_TRUE(faults.Crash().ok());
  auto log = MustOpen(dir.path());
  std::vector<WalRecord> records = ReadAll(*log, 1);
  ASSERT_EQ(records.size(), acked.size());
  for (const WalRecord& record : records) {
    EXPECT_EQ(acked.count(record.lsn), 1u);
  }
}

TEST(WalSyncFailureTest, ShortWriteStopsTheLogAndRecoveryCutsTheTornRecord) {
  TempDir dir;
  PosixFileLayer posix;
  FaultInjectingFileLayer faults(&posix);
  {
    auto log = MustOpen(dir.path(), {}, &faults);
    MustAppend(*log, 1, Payload(1));
    MustAppend(*log, 1, Payload(2));
    faults.ShortWriteAt(1, 9);
    absl::StatusOr<uint64_t> failed = log->AppendAndWait(1, Payload(3));
    EXPECT_FALSE(failed.ok());
    EXPECT_THAT(std::string(failed.status().message()), HasSubstr("short write"));
    EXPECT_FALSE(log->healthy());
    EXPECT_FALSE(log->AppendAndWait(1, Payload(4)).ok());
  }
  ASSERT_TRUE(faults.Crash(/*keep_unsynced_bytes=*/1000).ok());  // the 9 bytes reached the disk
  auto log = MustOpen(dir.path());
  const WalRecoveryReport& report = log->recovery_report();
  EXPECT_TRUE(report.truncated);
  EXPECT_EQ(report.bytes_truncated, 9u);
  EXPECT_EQ(report.last_lsn, 2u);
  EXPECT_EQ(ReadAll(*log, 1).size(), 2u);
  EXPECT_EQ(MustAppend(*log, 1, Payload(3)), 3u);
}

// ---- Recovery: torn tails and corruption ----

// WriteLog writes |payloads| as records 1..n into a fresh log in |dir| and returns the byte
// offset at which each record starts in the (single) segment.
std::vector<uint64_t> WriteLog(const std::string& dir, const std::vector<std::string>& payloads) {
  auto log = MustOpen(dir);
  std::vector<uint64_t> offsets;
  uint64_t offset = wal_format::kFileHeaderSize;
  for (const std::string& payload : payloads) {
    offsets.push_back(offset);
    MustAppend(*log, 7, payload);
    offset += wal_format::EncodedRecordSize(payload.size());
  }
  return offsets;
}

TEST(WalRecoveryTest, CutAtEveryByteOfTheLastRecordIsATornTail) {
  TempDir dir;
  const std::vector<std::string> payloads = {Payload(1), Payload(2, 40), Payload(3, 33)};
  std::vector<uint64_t> offsets = WriteLog(dir.Sub("orig"), payloads);
  const std::string original = ReadWholeFile(SegmentPath(dir.Sub("orig"), 1));
  const uint64_t last = offsets.back();
  ASSERT_EQ(original.size(), last + wal_format::EncodedRecordSize(payloads.back().size()));

  for (uint64_t cut = last; cut < original.size(); ++cut) {
    SCOPED_TRACE(::testing::Message() << "cut at " << cut);
    const std::string sub = dir.Sub("cut" + std::to_string(cut));
    fs::create_directory(sub);
    WriteWholeFile(SegmentPath(sub, 1), original.substr(0, cut));

    // A read-only dump sees the two records and calls the rest a torn tail.
    char* dump = nullptr;
    size_t dump_size = 0;
    FILE* out = open_memstream(&dump, &dump_size);
    absl::Status dumped = DumpWal(sub, out);
    fclose(out);
    std::string text(dump, dump_size);
    free(dump);
    EXPECT_TRUE(dumped.ok()) << dumped;
    EXPECT_THAT(text, HasSubstr("LSNs 1..2"));
    if (cut > last) {
      EXPECT_THAT(text, HasSubstr("torn tail"));
    }

    auto log = MustOpen(sub);
    ASSERT_NE(log, nullptr);
    const WalRecoveryReport& report = log->recovery_report();
    EXPECT_EQ(report.truncated, cut > last);
    if (cut > last) {
      EXPECT_EQ(report.truncated_segment, "wal-00000000000000000001.log");
      EXPECT_EQ(report.truncated_offset, last);
      EXPECT_EQ(report.bytes_truncated, cut - last);
      EXPECT_THAT(report.ToString(), HasSubstr("torn tail"));
    }
    EXPECT_EQ(report.last_lsn, 2u);
    std::vector<WalRecord> records = ReadAll(*log, 1);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].payload, payloads[0]);
    EXPECT_EQ(records[1].payload, payloads[1]);
    EXPECT_EQ(fs::file_size(SegmentPath(sub, 1)), last);
    EXPECT_EQ(MustAppend(*log, 7, "next"), 3u);
  }
}

TEST(WalRecoveryTest, EverySingleBitFlipInAMiddleRecordIsCorruption) {
  TempDir dir;
  const std::vector<std::string> payloads = {Payload(1, 8), Payload(2, 8), Payload(3, 8)};
  std::vector<uint64_t> offsets = WriteLog(dir.Sub("orig"), payloads);
  const std::string original = ReadWholeFile(SegmentPath(dir.Sub("orig"), 1));
  const uint64_t begin = offsets[1];
  const uint64_t end = offsets[2];
  for (uint64_t byte = begin; byte < end; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      SCOPED_TRACE(::testing::Message() << "byte " << byte << " bit " << bit);
      std::string damaged = original;
      damaged[byte] = static_cast<char>(damaged[byte] ^ (1 << bit));
      const std::string sub = dir.Sub("flip");
      fs::remove_all(sub);
      fs::create_directory(sub);
      WriteWholeFile(SegmentPath(sub, 1), damaged);
      absl::StatusOr<std::unique_ptr<WriteAheadLog>> log = WriteAheadLog::Open(sub, {});
      ASSERT_FALSE(log.ok());
      EXPECT_TRUE(absl::IsDataLoss(log.status())) << log.status();
      const std::string message(log.status().message());
      EXPECT_THAT(message, HasSubstr("wal-00000000000000000001.log at byte offset " +
                                     std::to_string(begin)));
      EXPECT_THAT(message, HasSubstr("ringward wal repair " + sub));
      // The damaged file was left exactly as it was.
      EXPECT_EQ(ReadWholeFile(SegmentPath(sub, 1)), damaged);
    }
  }
}

TEST(WalRecoveryTest, EverySingleBitFlipInTheLastRecordIsCutNeverReturned) {
  TempDir dir;
  const std::vector<std::string> payloads = {Payload(1, 8), Payload(2, 8)};
  std::vector<uint64_t> offsets = WriteLog(dir.Sub("orig"), payloads);
  const std::string original = ReadWholeFile(SegmentPath(dir.Sub("orig"), 1));
  for (uint64_t byte = offsets[1]; byte < original.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      SCOPED_TRACE(::testing::Message() << "byte " << byte << " bit " << bit);
      std::string damaged = original;
      damaged[byte] = static_cast<char>(damaged[byte] ^ (1 << bit));
      const std::string sub = dir.Sub("flip");
      fs::remove_all(sub);
      fs::create_directory(sub);
      WriteWholeFile(SegmentPath(sub, 1), damaged);
      // Indistinguishable from a torn write: cut and reported, and never handed to a reader.
      auto log = MustOpen(sub);
      ASSERT_NE(log, nullptr);
      EXPECT_TRUE(log->recovery_report().truncated);
      EXPECT_EQ(log->recovery_report().truncated_offset, offsets[1]);
      std::vector<WalRecord> records = ReadAll(*log, 1);
      ASSERT_EQ(records.size(), 1u);
      EXPECT_EQ(records[0].payload, payloads[0]);
    }
  }
}

TEST(WalRecoveryTest, EverySingleBitFlipInTheSegmentHeaderIsDetected) {
  TempDir dir;
  WriteLog(dir.Sub("orig"), {Payload(1)});
  const std::string original = ReadWholeFile(SegmentPath(dir.Sub("orig"), 1));
  for (uint64_t byte = 0; byte < wal_format::kFileHeaderSize; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      SCOPED_TRACE(::testing::Message() << "byte " << byte << " bit " << bit);
      std::string damaged = original;
      damaged[byte] = static_cast<char>(damaged[byte] ^ (1 << bit));
      const std::string sub = dir.Sub("flip");
      fs::remove_all(sub);
      fs::create_directory(sub);
      WriteWholeFile(SegmentPath(sub, 1), damaged);
      absl::StatusOr<std::unique_ptr<WriteAheadLog>> log = WriteAheadLog::Open(sub, {});
      EXPECT_FALSE(log.ok());
      EXPECT_THAT(std::string(log.status().message()), HasSubstr("wal-00000000000000000001.log"));
    }
  }
}

TEST(WalRecoveryTest, ImplausibleLengthsAreRejected) {
  TempDir dir;
  const std::vector<std::string> payloads = {Payload(1), Payload(2), Payload(3)};
  std::vector<uint64_t> offsets = WriteLog(dir.Sub("orig"), payloads);
  const std::string original = ReadWholeFile(SegmentPath(dir.Sub("orig"), 1));

  // Above the maximum, in the middle of the log.
  std::string damaged = original;
  wal_format::PutU32(damaged.data() + offsets[1], wal_format::kMaxPayloadSize + 1);
  fs::create_directory(dir.Sub("big"));
  WriteWholeFile(SegmentPath(dir.Sub("big"), 1), damaged);
  absl::StatusOr<std::unique_ptr<WriteAheadLog>> log = WriteAheadLog::Open(dir.Sub("big"), {});
  ASSERT_FALSE(log.ok());
  EXPECT_THAT(std::string(log.status().message()), HasSubstr("implausible record length"));
  EXPECT_THAT(std::string(log.status().message()), HasSubstr("valid record (LSN 3)"));

  // Within the maximum but past the end of a sealed segment.
  TempDir two;
  {
    WalOptions options;
    options.segment_bytes = wal_format::kFileHeaderSize + 2 * wal_format::EncodedRecordSize(12);
    auto wal = MustOpen(two.path(), options);
    for (int i = 1; i <= 3; ++i) {
      MustAppend(*wal, 1, Payload(i));
    }
    ASSERT_EQ(SegmentNames(two.path()).size(), 2u);
  }
  std::string first = ReadWholeFile(SegmentPath(two.path(), 1));
  wal_format::PutU32(first.data() + wal_format::kFileHeaderSize + wal_format::EncodedRecordSize(12),
                     1000);
  WriteWholeFile(SegmentPath(two.path(), 1), first);
  log = WriteAheadLog::Open(two.path(), {});
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(absl::IsDataLoss(log.status()));
  EXPECT_THAT(
      std::string(log.status().message()),
      HasSubstr("wal-00000000000000000001.log at byte offset " +
                std::to_string(wal_format::kFileHeaderSize + wal_format::EncodedRecordSize(12))));
  EXPECT_THAT(std::string(log.status().message()), HasSubstr("runs past the end"));

  // At the very end of the last segment an implausible length is a torn tail.
  damaged = original;
  wal_format::PutU32(damaged.data() + offsets[2], 0xFFFFFFFFu);
  fs::create_directory(dir.Sub("tail"));
  WriteWholeFile(SegmentPath(dir.Sub("tail"), 1), damaged);
  auto tail = MustOpen(dir.Sub("tail"));
  ASSERT_NE(tail, nullptr);
  EXPECT_TRUE(tail->recovery_report().truncated);
  EXPECT_EQ(ReadAll(*tail, 1).size(), 2u);
}

TEST(WalRecoveryTest, MidLogCorruptionNamesSegmentAndOffsetAndRepairCutsThere) {
  TempDir dir;
  WalOptions options;
  options.segment_bytes = 200;
  std::vector<uint64_t> first_lsns;
  {
    auto log = MustOpen(dir.path(), options);
    for (int i = 1; i <= 20; ++i) {
      MustAppend(*log, 1, Payload(i));
    }
    for (const WalSegmentInfo& segment : log->GetStatus().segments) {
      first_lsns.push_back(segment.first_lsn);
    }
  }
  ASSERT_GE(first_lsns.size(), 4u);
  // Damage the payload of the second record of the second segment.
  const std::string victim = SegmentPath(dir.path(), first_lsns[1]);
  const uint64_t offset = wal_format::kFileHeaderSize + wal_format::EncodedRecordSize(12);
  std::string bytes = ReadWholeFile(victim);
  bytes[offset + 20] ^= 0x40;
  WriteWholeFile(victim, bytes);

  absl::StatusOr<std::unique_ptr<WriteAheadLog>> log = WriteAheadLog::Open(dir.path(), options);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(absl::IsDataLoss(log.status()));
  const std::string message(log.status().message());
  EXPECT_THAT(message, HasSubstr(wal_format::SegmentFileName(first_lsns[1]) + " at byte offset " +
                                 std::to_string(offset)));
  EXPECT_THAT(message, HasSubstr("checksum mismatch"));
  EXPECT_THAT(message, HasSubstr("ringward wal repair"));

  absl::StatusOr<WalRepairReport> repair = RepairWal(dir.path());
  ASSERT_TRUE(repair.ok()) << repair.status();
  EXPECT_TRUE(repair->repaired);
  EXPECT_EQ(repair->segment, wal_format::SegmentFileName(first_lsns[1]));
  EXPECT_EQ(repair->offset, offset);
  EXPECT_EQ(repair->last_lsn, first_lsns[1]);
  EXPECT_EQ(repair->backups.size(), first_lsns.size() - 1);
  EXPECT_EQ(ReadWholeFile(dir.Sub(repair->backups[0])), bytes);  // the damaged original
  EXPECT_THAT(repair->ToString(), HasSubstr("cut"));

  auto repaired = MustOpen(dir.path(), options);
  ASSERT_NE(repaired, nullptr);
  EXPECT_EQ(repaired->durable_lsn(), first_lsns[1]);
  EXPECT_EQ(ReadAll(*repaired, 1).size(), first_lsns[1]);
  EXPECT_EQ(MustAppend(*repaired, 1, "after repair"), first_lsns[1] + 1);

  // Nothing left to repair.
  repaired.reset();
  absl::StatusOr<WalRepairReport> again = RepairWal(dir.path());
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->repaired);
}

TEST(WalRecoveryTest, LsnGapBetweenSegmentsIsCorruption) {
  TempDir dir;
  WalOptions options;
  options.segment_bytes = 200;
  std::vector<uint64_t> first_lsns;
  {
    auto log = MustOpen(dir.path(), options);
    for (int i = 1; i <= 20; ++i) {
      MustAppend(*log, 1, Payload(i));
    }
    for (const WalSegmentInfo& segment : log->GetStatus().segments) {
      first_lsns.push_back(segment.first_lsn);
    }
  }
  ASSERT_GE(first_lsns.size(), 3u);
  fs::remove(SegmentPath(dir.path(), first_lsns[1]));
  absl::StatusOr<std::unique_ptr<WriteAheadLog>> log = WriteAheadLog::Open(dir.path(), options);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(absl::IsDataLoss(log.status()));
  EXPECT_THAT(std::string(log.status().message()), HasSubstr("contiguous"));
  EXPECT_THAT(std::string(log.status().message()),
              HasSubstr(wal_format::SegmentFileName(first_lsns[2])));

  // A record whose LSN breaks the sequence inside a segment (valid checksum) is corruption too.
  TempDir seq;
  std::vector<uint64_t> offsets = WriteLog(seq.path(), {Payload(1), Payload(2), Payload(3)});
  std::string bytes = ReadWholeFile(SegmentPath(seq.path(), 1));
  std::string fake;
  wal_format::AppendRecord(&fake, 5, 7, Payload(2));
  bytes.replace(offsets[1], fake.size(), fake);
  WriteWholeFile(SegmentPath(seq.path(), 1), bytes);
  log = WriteAheadLog::Open(seq.path(), {});
  ASSERT_FALSE(log.ok());
  EXPECT_THAT(std::string(log.status().message()), HasSubstr("LSN 5 but LSN 2 was expected"));
}

TEST(WalRecoveryTest, TornHeaderOfANewLastSegmentIsRemoved) {
  TempDir dir;
  {
    auto log = MustOpen(dir.path());
    MustAppend(*log, 1, Payload(1));
    MustAppend(*log, 1, Payload(2));
  }
  WriteWholeFile(SegmentPath(dir.path(), 3), std::string("RWWAL", 5));  // crash mid-rollover
  auto log = MustOpen(dir.path());
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(log->recovery_report().truncated);
  EXPECT_EQ(log->recovery_report().removed_files,
            std::vector<std::string>{wal_format::SegmentFileName(3)});
  EXPECT_EQ(MustAppend(*log, 1, Payload(3)), 3u);
  EXPECT_EQ(ReadAll(*log, 1).size(), 3u);
}

// ---- Segments and readers ----

TEST(WalSegmentTest, RollsOverAtTheConfiguredSize) {
  TempDir dir;
  PosixFileLayer posix;
  FaultInjectingFileLayer faults(&posix);
  WalOptions options;
  options.segment_bytes = 256;
  const size_t record = wal_format::EncodedRecordSize(40);  // 60 bytes: 3 per segment
  {
    auto log = MustOpen(dir.path(), options, &faults);
    const int64_t dir_syncs = faults.dir_syncs();
    for (int i = 1; i <= 30; ++i) {
      MustAppend(*log, 1, Payload(i, 40));
    }
    WalStatus status = log->GetStatus();
    ASSERT_EQ(status.segments.size(), 10u);
    for (size_t i = 0; i < status.segments.size(); ++i) {
      EXPECT_EQ(status.segments[i].first_lsn, 1 + 3 * i);
      EXPECT_EQ(status.segments[i].bytes, wal_format::kFileHeaderSize + 3 * record);
      EXPECT_LE(fs::file_size(dir.Sub(status.segments[i].name)), options.segment_bytes);
    }
    EXPECT_EQ(faults.dir_syncs() - dir_syncs, 9);  // one per new segment
    // A record larger than a segment gets one of its own.
    EXPECT_EQ(MustAppend(*log, 1, std::string(1000, 'B')), 31u);
    EXPECT_EQ(MustAppend(*log, 1, "small"), 32u);
    status = log->GetStatus();
    ASSERT_EQ(status.segments.size(), 12u);
    EXPECT_EQ(status.segments[10].first_lsn, 31u);
    EXPECT_EQ(status.segments[11].first_lsn, 32u);
  }
  auto log = MustOpen(dir.path(), options);
  std::vector<WalRecord> records = ReadAll(*log, 1);
  ASSERT_EQ(records.size(), 32u);
  for (size_t i = 0; i < 30; ++i) {
    EXPECT_EQ(records[i].payload, Payload(static_cast<int>(i + 1), 40));
  }
  EXPECT_EQ(records[30].payload, std::string(1000, 'B'));
}

TEST(WalReaderTest, StartsFromAnyLsnAndFollowsNewRecords) {
  TempDir dir;
  WalOptions options;
  options.segment_bytes = 200;
  auto log = MustOpen(dir.path(), options);
  constexpr int kRecords = 25;
  for (int i = 1; i <= kRecords; ++i) {
    MustAppend(*log, static_cast<uint16_t>(i), Payload(i));
  }
  for (uint64_t from = 1; from <= kRecords + 1; ++from) {
    std::vector<WalRecord> records = ReadAll(*log, from);
    ASSERT_EQ(records.size(), kRecords + 1 - from) << from;
    for (size_t i = 0; i < records.size(); ++i) {
      EXPECT_EQ(records[i].lsn, from + i);
      EXPECT_EQ(records[i].type, from + i);
      EXPECT_EQ(records[i].payload, Payload(static_cast<int>(from + i)));
    }
  }
  EXPECT_TRUE(absl::IsOutOfRange(log->NewReader(0).status()));
  EXPECT_TRUE(absl::IsOutOfRange(log->NewReader(kRecords + 2).status()));

  // A reader at the end sees nothing, then each new record as it becomes durable, across
  // rollovers, like a replication stream.
  absl::StatusOr<std::unique_ptr<WalReader>> reader = log->NewReader(kRecords + 1);
  ASSERT_TRUE(reader.ok());
  WalRecord record;
  absl::StatusOr<bool> more = (*reader)->Next(&record);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
  std::thread writer([&] {
    for (int i = kRecords + 1; i <= kRecords + 30; ++i) {
      MustAppend(*log, 1, Payload(i));
    }
  });
  uint64_t expected = kRecords + 1;
  while (expected <= kRecords + 30) {
    log->WaitForDurable(expected, std::chrono::seconds(10));
    more = (*reader)->Next(&record);
    ASSERT_TRUE(more.ok()) << more.status();
    if (*more) {
      EXPECT_EQ(record.lsn, expected);
      EXPECT_EQ(record.payload, Payload(static_cast<int>(expected)));
      ++expected;
    }
  }
  writer.join();
}

TEST(WalReaderTest, DamagedDurableRecordIsReportedNotReturned) {
  TempDir dir;
  auto log = MustOpen(dir.path());
  MustAppend(*log, 1, Payload(1));
  MustAppend(*log, 1, Payload(2));
  std::string bytes = ReadWholeFile(SegmentPath(dir.path(), 1));
  bytes[wal_format::kFileHeaderSize + wal_format::EncodedRecordSize(12) + 18] ^= 1;
  WriteWholeFile(SegmentPath(dir.path(), 1), bytes);
  absl::StatusOr<std::unique_ptr<WalReader>> reader = log->NewReader(1);
  ASSERT_TRUE(reader.ok());
  WalRecord record;
  absl::StatusOr<bool> more = (*reader)->Next(&record);
  ASSERT_TRUE(more.ok() && *more);
  more = (*reader)->Next(&record);
  ASSERT_FALSE(more.ok());
  EXPECT_TRUE(absl::IsDataLoss(more.status()));
  EXPECT_THAT(std::string(more.status().message()), HasSubstr("checksum mismatch"));
}

// ---- Compaction ----

std::vector<WalRecord> LiveState() {
  return {WalRecord{0, 3, "jti:abc"}, WalRecord{0, 4, ""},
          WalRecord{0, 0xFFFE, "sub:alice<1700000000"}, WalRecord{0, 3, std::string(5000, 'Z')}};
}

std::vector<WalRecord> ReadSnapshot(WriteAheadLog& log) {
  std::vector<WalRecord> out;
  absl::StatusOr<std::unique_ptr<WalSnapshotReader>> reader = log.NewSnapshotReader();
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) {
    return out;
  }
  WalRecord record;
  for (;;) {
    absl::StatusOr<bool> more = (*reader)->Next(&record);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) {
      break;
    }
    out.push_back(record);
  }
  return out;
}

void ExpectSameRecords(const std::vector<WalRecord>& got, const std::vector<WalRecord>& want,
                       uint64_t lsn) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].lsn, lsn);
    EXPECT_EQ(got[i].type, want[i].type);
    EXPECT_EQ(got[i].payload, want[i].payload);
  }
}

TEST(WalCompactionTest, KeepsExactlyTheCallersRecordsAndRemovesCoveredSegments) {
  TempDir dir;
  WalOptions options;
  options.segment_bytes = 256;  // 3 records of 60 bytes per segment
  auto log = MustOpen(dir.path(), options);
  for (int i = 1; i <= 30; ++i) {
    MustAppend(*log, 1, Payload(i, 40));
  }
  EXPECT_TRUE(absl::IsNotFound(log->NewSnapshotReader().status()));
  EXPECT_TRUE(absl::IsInvalidArgument(log->Compact(31, LiveState())));  // not durable yet

  ASSERT_TRUE(log->Compact(20, LiveState()).ok());
  EXPECT_EQ(log->snapshot_lsn(), 20u);
  ExpectSameRecords(ReadSnapshot(*log), LiveState(), 20);
  // Segments start at 1, 4, ..., 28; the one starting at 19 holds 19..21, so it stays and is
  // the oldest; all before it are gone from disk.
  EXPECT_EQ(log->oldest_lsn(), 19u);
  std::vector<std::string> names = SegmentNames(dir.path());
  ASSERT_EQ(names.size(), 4u);
  EXPECT_EQ(names.front(), wal_format::SegmentFileName(19));
  EXPECT_TRUE(fs::exists(dir.Sub(wal_format::SnapshotFileName(20))));
  EXPECT_TRUE(absl::IsOutOfRange(log->NewReader(18).status()));
  std::vector<WalRecord> tail = ReadAll(*log, 19);
  ASSERT_EQ(tail.size(), 12u);
  EXPECT_EQ(tail.front().lsn, 19u);

  EXPECT_TRUE(absl::IsInvalidArgument(log->Compact(10, {})));  // older than the snapshot
  // A newer snapshot replaces the old one.
  ASSERT_TRUE(log->Compact(30, {WalRecord{0, 9, "only"}}).ok());
  EXPECT_FALSE(fs::exists(dir.Sub(wal_format::SnapshotFileName(20))));
  ExpectSameRecords(ReadSnapshot(*log), {WalRecord{0, 9, "only"}}, 30);
  EXPECT_EQ(SegmentNames(dir.path()), std::vector<std::string>{wal_format::SegmentFileName(28)});
}

TEST(WalCompactionTest, ReopenLoadsSnapshotThenTail) {
  TempDir dir;
  WalOptions options;
  options.segment_bytes = 256;
  {
    auto log = MustOpen(dir.path(), options);
    for (int i = 1; i <= 30; ++i) {
      MustAppend(*log, 1, Payload(i, 40));
    }
    ASSERT_TRUE(log->Compact(20, LiveState()).ok());
    for (int i = 31; i <= 35; ++i) {
      MustAppend(*log, 2, Payload(i, 40));
    }
  }
  auto log = MustOpen(dir.path(), options);
  ASSERT_NE(log, nullptr);
  const WalRecoveryReport& report = log->recovery_report();
  EXPECT_EQ(report.snapshot_lsn, 20u);
  EXPECT_EQ(report.snapshot_records, LiveState().size());
  EXPECT_EQ(report.first_lsn, 19u);
  EXPECT_EQ(report.last_lsn, 35u);
  ExpectSameRecords(ReadSnapshot(*log), LiveState(), 20);
  std::vector<WalRecord> tail = ReadAll(*log, log->snapshot_lsn() + 1);
  ASSERT_EQ(tail.size(), 15u);
  EXPECT_EQ(tail.front().lsn, 21u);
  EXPECT_EQ(tail.back().lsn, 35u);
  EXPECT_EQ(tail.back().payload, Payload(35, 40));
}

TEST(WalCompactionTest, InterruptedCompactionIsFinishedByOpen) {
  TempDir dir;
  WalOptions options;
  options.segment_bytes = 256;
  {
    auto log = MustOpen(dir.path(), options);
    for (int i = 1; i <= 12; ++i) {
      MustAppend(*log, 1, Payload(i, 40));
    }
  }
  const std::string first_segment = ReadWholeFile(SegmentPath(dir.path(), 1));
  {
    auto log = MustOpen(dir.path(), options);
    ASSERT_TRUE(log->Compact(9, LiveState()).ok());
  }
  // As if the crash came after the rename but before the removals, with a stray temp file.
  WriteWholeFile(SegmentPath(dir.path(), 1), first_segment);
  WriteWholeFile(dir.Sub(wal_format::SnapshotFileName(12) + ".tmp"), "half a snapshot");
  auto log = MustOpen(dir.path(), options);
  ASSERT_NE(log, nullptr);
  std::vector<std::string> removed = log->recovery_report().removed_files;
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, (std::vector<std::string>{wal_format::SnapshotFileName(12) + ".tmp",
                                               wal_format::SegmentFileName(1)}));
  EXPECT_FALSE(fs::exists(SegmentPath(dir.path(), 1)));
  EXPECT_EQ(log->oldest_lsn(), 10u);  // the segment starting at 7 held 7..9, all covered
  ExpectSameRecords(ReadSnapshot(*log), LiveState(), 9);
}

TEST(WalCompactionTest, DamagedSnapshotStopsOpen) {
  TempDir dir;
  {
    auto log = MustOpen(dir.path());
    for (int i = 1; i <= 5; ++i) {
      MustAppend(*log, 1, Payload(i));
    }
    ASSERT_TRUE(log->Compact(5, LiveState()).ok());
  }
  const std::string path = dir.Sub(wal_format::SnapshotFileName(5));
  std::string bytes = ReadWholeFile(path);
  bytes[wal_format::kFileHeaderSize + 18] ^= 0x08;
  WriteWholeFile(path, bytes);
  absl::StatusOr<std::unique_ptr<WriteAheadLog>> log = WriteAheadLog::Open(dir.path(), {});
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(absl::IsDataLoss(log.status()));
  EXPECT_THAT(std::string(log.status().message()), HasSubstr(wal_format::SnapshotFileName(5)));
  // A truncated snapshot too (the footer is gone).
  bytes = ReadWholeFile(path);
  bytes[wal_format::kFileHeaderSize + 18] ^= 0x08;
  WriteWholeFile(path, bytes.substr(0, bytes.size() - 1));
  log = WriteAheadLog::Open(dir.path(), {});
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(absl::IsDataLoss(log.status()));
}

TEST(WalCompactionTest, FailedSnapshotSyncLeavesTheLogAsItWas) {
  TempDir dir;
  PosixFileLayer posix;
  FaultInjectingFileLayer faults(&posix);
  auto log = MustOpen(dir.path(), {}, &faults);
  for (int i = 1; i <= 5; ++i) {
    MustAppend(*log, 1, Payload(i));
  }
  faults.FailSyncAt(1);
  EXPECT_FALSE(log->Compact(5, LiveState()).ok());
  EXPECT_EQ(log->snapshot_lsn(), 0u);
  EXPECT_TRUE(log->healthy());  // the log's own data was never at risk
  EXPECT_FALSE(fs::exists(dir.Sub(wal_format::SnapshotFileName(5))));
  EXPECT_FALSE(fs::exists(dir.Sub(wal_format::SnapshotFileName(5) + ".tmp")));
  EXPECT_EQ(MustAppend(*log, 1, Payload(6)), 6u);
}

// ---- Installing a snapshot (followers) ----

std::string InstallName(uint64_t lsn) {
  return "install-" + wal_format::SnapshotFileName(lsn).substr(std::string("snapshot-").size());
}

std::vector<WalRecord> LeaderState() {
  return {WalRecord{0, 3, "jti:from-the-leader"}, WalRecord{0, 40, "client:web"},
          WalRecord{0, 0xFFF0, std::string(3000, 'L')}};
}

// NamesWithPrefix lists the files of |dir| whose names start with |prefix|, sorted.
std::vector<std::string> NamesWithPrefix(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(prefix)) {
      names.push_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// ExpectInstalled checks the whole observable state of a log that holds exactly the installed
// snapshot: in memory and on disk.
void ExpectInstalled(WriteAheadLog& log, const std::string& dir, uint64_t covered,
                     const std::vector<WalRecord>& records) {
  EXPECT_EQ(log.snapshot_lsn(), covered);
  EXPECT_EQ(log.durable_lsn(), covered);
  EXPECT_EQ(log.oldest_lsn(), covered + 1);
  ExpectSameRecords(ReadSnapshot(log), records, covered);
  EXPECT_TRUE(ReadAll(log, covered + 1).empty());
  EXPECT_TRUE(absl::IsOutOfRange(log.NewReader(covered).status()));
  EXPECT_EQ(SegmentNames(dir), std::vector<std::string>{wal_format::SegmentFileName(covered + 1)});
  EXPECT_EQ(NamesWithPrefix(dir, "snapshot-"),
            std::vector<std::string>{wal_format::SnapshotFileName(covered)});
  EXPECT_TRUE(NamesWithPrefix(dir, "install-").empty());
}

TEST(WalInstallTest, IntoAnEmptyLog) {
  TempDir dir;
  auto log = MustOpen(dir.path());
  ASSERT_TRUE(log->InstallSnapshot(100, LeaderState()).ok());
  ExpectInstalled(*log, dir.path(), 100, LeaderState());
  EXPECT_TRUE(log->healthy());
  EXPECT_EQ(MustAppend(*log, 1, "after"), 101u);
  std::vector<WalRecord> tail = ReadAll(*log, 101);
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].payload, "after");
  EXPECT_TRUE(log->WaitForDurable(101, std::chrono::milliseconds(0)));
}

TEST(WalInstallTest, IntoALogBehindRemovesEverythingOld) {
  TempDir dir;
  WalOptions options;
  options.segment_bytes = 256;
  auto log = MustOpen(dir.path(), options);
  for (int i = 1; i <= 12; ++i) {
    MustAppend(*log, 1, Payload(i, 40));
  }
  ASSERT_TRUE(log->Compact(5, LiveState()).ok());
  ASSERT_GT(SegmentNames(dir.path()).size(), 1u);
  ASSERT_TRUE(log->InstallSnapshot(50, LeaderState()).ok());
  ExpectInstalled(*log, dir.path(), 50, LeaderState());
  EXPECT_EQ(MustAppend(*log, 2, Payload(51)), 51u);
  EXPECT_EQ(log->GetStatus().last_lsn, 51u);
}

TEST(WalInstallTest, IntoALogAheadDropsItsRecordsAfterTheSnapshot) {
  TempDir dir;
  WalOptions options;
  options.segment_bytes = 256;
  {
    auto log = MustOpen(dir.path(), options);
    for (int i = 1; i <= 30; ++i) {
      MustAppend(*log, 1, Payload(i, 40));
    }
    ASSERT_TRUE(log->Compact(25, {WalRecord{0, 9, "own history"}}).ok());
    // The leader's history diverged at 20: its snapshot covers 20 and its 21 is another record.
    ASSERT_TRUE(log->InstallSnapshot(20, LeaderState()).ok());
    ExpectInstalled(*log, dir.path(), 20, LeaderState());
    EXPECT_EQ(MustAppend(*log, 2, "leader-21"), 21u);
    EXPECT_EQ(MustAppend(*log, 2, "leader-22"), 22u);
  }
  auto log = MustOpen(dir.path(), options);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->durable_lsn(), 22u);
  std::vector<WalRecord> tail = ReadAll(*log, 21);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].payload, "leader-21");
  EXPECT_EQ(tail[1].payload, "leader-22");
  EXPECT_EQ(log->snapshot_lsn(), 20u);
  ExpectSameRecords(ReadSnapshot(*log), LeaderState(), 20);
}

TEST(WalInstallTest, ReopenReplaysSnapshotThenRecords) {
  TempDir dir;
  {
    auto log = MustOpen(dir.path());
    MustAppend(*log, 1, "old");
    ASSERT_TRUE(log->InstallSnapshot(7, LeaderState()).ok());
    for (int i = 8; i <= 10; ++i) {
      EXPECT_EQ(MustAppend(*log, 2, Payload(i)), static_cast<uint64_t>(i));
    }
  }
  auto log = MustOpen(dir.path());
  ASSERT_NE(log, nullptr);
  const WalRecoveryReport& report = log->recovery_report();
  EXPECT_EQ(report.snapshot_lsn, 7u);
  EXPECT_EQ(report.snapshot_records, LeaderState().size());
  EXPECT_EQ(report.first_lsn, 8u);
  EXPECT_EQ(report.last_lsn, 10u);
  EXPECT_EQ(report.install_finished_lsn, 0u);  // it had finished before the close
  ExpectSameRecords(ReadSnapshot(*log), LeaderState(), 7);
  std::vector<WalRecord> tail = ReadAll(*log, log->snapshot_lsn() + 1);
  ASSERT_EQ(tail.size(), 3u);
  EXPECT_EQ(tail[0].lsn, 8u);
  EXPECT_EQ(tail[2].payload, Payload(10));
  EXPECT_EQ(MustAppend(*log, 2, "next"), 11u);
}

TEST(WalInstallTest, SnapshotWithoutSegmentsStartsAfterTheSnapshot) {
  // What a crash between the last rename and the new segment's creation leaves.
  TempDir dir;
  {
    auto log = MustOpen(dir.path());
    ASSERT_TRUE(log->InstallSnapshot(42, LeaderState()).ok());
  }
  ASSERT_TRUE(fs::remove(SegmentPath(dir.path(), 43)));
  auto log = MustOpen(dir.path());
  ASSERT_NE(log, nullptr);
  ExpectInstalled(*log, dir.path(), 42, LeaderState());
  EXPECT_EQ(log->recovery_report().first_lsn, 43u);
  EXPECT_EQ(log->recovery_report().last_lsn, 42u);
  absl::StatusOr<std::unique_ptr<WalReader>> reader = log->NewReader(43);
  ASSERT_TRUE(reader.ok()) << reader.status();
  WalRecord record;
  absl::StatusOr<bool> more = (*reader)->Next(&record);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
  EXPECT_EQ(MustAppend(*log, 1, "first"), 43u);
  more = (*reader)->Next(&record);
  ASSERT_TRUE(more.ok()) << more.status();
  ASSERT_TRUE(*more);
  EXPECT_EQ(record.lsn, 43u);
  EXPECT_EQ(record.payload, "first");
}

TEST(WalInstallTest, StreamingInstallOfALargeSnapshot) {
  TempDir dir;
  auto log = MustOpen(dir.path());
  MustAppend(*log, 1, "old");
  {
    // Dropped uncommitted, a writer leaves nothing behind and the log unchanged.
    absl::StatusOr<std::unique_ptr<WalSnapshotWriter>> writer = log->BeginInstall(9);
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE((*writer)->Add(1, "x").ok());
    EXPECT_EQ(NamesWithPrefix(dir.path(), "install-"),
              std::vector<std::string>{InstallName(9) + ".tmp"});
  }
  EXPECT_TRUE(NamesWithPrefix(dir.path(), "install-").empty());
  EXPECT_EQ(log->durable_lsn(), 1u);

  absl::StatusOr<std::unique_ptr<WalSnapshotWriter>> writer = log->BeginInstall(1000);
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_EQ((*writer)->covered_lsn(), 1000u);
  std::vector<WalRecord> want;
  for (int i = 0; i < 400; ++i) {  // ~2 MB: more than one flush of the writer's buffer
    want.push_back(WalRecord{0, static_cast<uint16_t>(1 + i % 50), Payload(i, 5000)});
    ASSERT_TRUE((*writer)->Add(want.back().type, want.back().payload).ok());
  }
  ASSERT_TRUE(log->CommitInstall(std::move(*writer)).ok());
  ExpectInstalled(*log, dir.path(), 1000, want);
  absl::StatusOr<std::unique_ptr<WalSnapshotReader>> reader = log->NewSnapshotReader();
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->lsn(), 1000u);
  EXPECT_EQ((*reader)->records(), 400u);
}

TEST(WalInstallTest, RejectsBadArgumentsWithoutTouchingTheLog) {
  TempDir dir;
  auto log = MustOpen(dir.path());
  MustAppend(*log, 1, "kept");
  EXPECT_TRUE(absl::IsInvalidArgument(log->InstallSnapshot(0, LeaderState())));
  EXPECT_TRUE(absl::IsInvalidArgument(log->InstallSnapshot(UINT64_MAX, {})));
  EXPECT_TRUE(absl::IsInvalidArgument(log->InstallSnapshot(5, {WalRecord{0, 0, "type 0"}})));
  // Writers only commit through their own kind of commit.
  absl::StatusOr<std::unique_ptr<WalSnapshotWriter>> install = log->BeginInstall(5);
  ASSERT_TRUE(install.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(log->CommitSnapshot(std::move(*install))));
  absl::StatusOr<std::unique_ptr<WalSnapshotWriter>> compaction = log->BeginSnapshot(1);
  ASSERT_TRUE(compaction.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(log->CommitInstall(std::move(*compaction))));
  EXPECT_EQ(log->snapshot_lsn(), 0u);
  EXPECT_EQ(log->durable_lsn(), 1u);
  EXPECT_TRUE(NamesWithPrefix(dir.path(), "install-").empty());
  EXPECT_TRUE(NamesWithPrefix(dir.path(), "snapshot-").empty());
  EXPECT_EQ(MustAppend(*log, 1, "next"), 2u);
}

TEST(WalInstallTest, CompactionBegunBeforeAnInstallIsRefused) {
  TempDir dir;
  auto log = MustOpen(dir.path());
  for (int i = 1; i <= 60; ++i) {
    MustAppend(*log, 1, Payload(i));
  }
  absl::StatusOr<std::unique_ptr<WalSnapshotWriter>> stale = log->BeginSnapshot(60);
  ASSERT_TRUE(stale.ok());
  ASSERT_TRUE((*stale)->Add(1, "state of the replaced history").ok());
  ASSERT_TRUE(log->InstallSnapshot(50, LeaderState()).ok());
  // Covering 60 >= 50 it would pass the old checks and put the old history back.
  absl::Status status = log->CommitSnapshot(std::move(*stale));
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  ExpectInstalled(*log, dir.path(), 50, LeaderState());
}

TEST(WalInstallTest, QueuedAppendsAreRefusedAndOldReadersStop) {
  TempDir dir;
  auto log = MustOpen(dir.path());
  for (int i = 1; i <= 5; ++i) {
    MustAppend(*log, 1, Payload(i));
  }
  absl::StatusOr<std::unique_ptr<WalReader>> old_reader = log->NewReader(1);
  ASSERT_TRUE(old_reader.ok());
  WalRecord record;
  ASSERT_TRUE(*(*old_reader)->Next(&record));

  // Hold the sync thread in the callback of a written batch, so that what is queued behind it
  // is still queued when the install starts.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<absl::StatusOr<uint64_t>> first;
  std::promise<absl::StatusOr<uint64_t>> queued_before;
  std::promise<absl::StatusOr<uint64_t>> queued_during;
  log->Append(1, "written", [&](absl::StatusOr<uint64_t> lsn) {
    first.set_value(lsn);
    released.wait();
  });
  absl::StatusOr<uint64_t> first_lsn = first.get_future().get();
  ASSERT_TRUE(first_lsn.ok()) << first_lsn.status();
  EXPECT_EQ(*first_lsn, 6u);
  log->Append(1, "queued before",
              [&](absl::StatusOr<uint64_t> lsn) { queued_before.set_value(lsn); });
  std::thread installer([&] { EXPECT_TRUE(log->InstallSnapshot(30, LeaderState()).ok()); });
  // NewReader is refused while the install runs: the sign that it has begun.
  while (!absl::IsUnavailable(log->NewReader(1).status())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  log->Append(1, "queued during",
              [&](absl::StatusOr<uint64_t> lsn) { queued_during.set_value(lsn); });
  release.set_value();
  installer.join();
  absl::StatusOr<uint64_t> before = queued_before.get_future().get();
  absl::StatusOr<uint64_t> during = queued_during.get_future().get();
  EXPECT_TRUE(absl::IsFailedPrecondition(before.status())) << before.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(during.status())) << during.status();
  ExpectInstalled(*log, dir.path(), 30, LeaderState());
  EXPECT_TRUE(log->healthy());
  EXPECT_EQ(MustAppend(*log, 1, "after"), 31u);

  absl::StatusOr<bool> more = (*old_reader)->Next(&record);
  EXPECT_TRUE(absl::IsOutOfRange(more.status())) << more.status();
}

// CrashingFileLayer stands between the log and a FaultInjectingFileLayer and makes the nth
// state-changing file operation (create, append, sync, directory sync, rename, truncate,
// remove) after Arm fail. kCrash: that one and every later one fail, as if the process died
// right before it; FaultInjectingFileLayer::Crash then drops what was not durable.
// kOneFailure: only that one fails (an I/O error the process lives through).
class CrashingFileLayer final : public FileLayer {
 public:
  enum class Mode { kCrash, kOneFailure };

  explicit CrashingFileLayer(FileLayer* base) : base_(base) {}

  void Arm(int nth, Mode mode) {
    std::lock_guard<std::mutex> lock(mu_);
    countdown_ = nth;
    mode_ = mode;
    ops_ = 0;
    tripped_ = false;
  }
  int ops() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ops_;
  }
  bool tripped() const {
    std::lock_guard<std::mutex> lock(mu_);
    return tripped_;
  }

  absl::Status Step(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    ++ops_;
    if (tripped_ && mode_ == Mode::kCrash) {
      return absl::InternalError("crashed before " + what);
    }
    if (countdown_ > 0 && --countdown_ == 0) {
      tripped_ = true;
      return absl::InternalError("injected failure of " + what);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                             WriteMode mode) override {
    absl::Status status = Step("open " + path);
    if (!status.ok()) {
      return status;
    }
    absl::StatusOr<std::unique_ptr<WritableFile>> file = base_->OpenWritable(path, mode);
    if (!file.ok()) {
      return file.status();
    }
    return std::unique_ptr<WritableFile>(new File(this, std::move(*file), path));
  }
  absl::StatusOr<std::unique_ptr<ReadableFile>> OpenReadable(const std::string& path) override {
    return base_->OpenReadable(path);
  }
  absl::Status CreateDir(const std::string& path) override { return base_->CreateDir(path); }
  absl::Status SyncDir(const std::string& path) override {
    absl::Status status = Step("fsync " + path);
    return status.ok() ? base_->SyncDir(path) : status;
  }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override {
    return base_->ListDir(path);
  }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    absl::Status status = Step("rename " + from);
    return status.ok() ? base_->Rename(from, to) : status;
  }
  absl::Status Truncate(const std::string& path, uint64_t size) override {
    absl::Status status = Step("truncate " + path);
    return status.ok() ? base_->Truncate(path, size) : status;
  }
  absl::Status Remove(const std::string& path) override {
    absl::Status status = Step("remove " + path);
    return status.ok() ? base_->Remove(path) : status;
  }
  absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& path) override {
    return base_->Lock(path);
  }

 private:
  class File final : public WritableFile {
   public:
    File(CrashingFileLayer* layer, std::unique_ptr<WritableFile> base, std::string path)
        : layer_(layer), base_(std::move(base)), path_(std::move(path)) {}
    absl::Status Append(std::string_view data) override {
      absl::Status status = layer_->Step("write " + path_);
      return status.ok() ? base_->Append(data) : status;
    }
    absl::Status Sync() override {
      absl::Status status = layer_->Step("fdatasync " + path_);
      return status.ok() ? base_->Sync() : status;
    }
    uint64_t size() const override { return base_->size(); }

   private:
    CrashingFileLayer* layer_;
    std::unique_ptr<WritableFile> base_;
    std::string path_;
  };

  FileLayer* const base_;
  mutable std::mutex mu_;
  int countdown_ = 0;
  Mode mode_ = Mode::kCrash;
  int ops_ = 0;
  bool tripped_ = false;
};

// InstallCase is a log to install into (kept as a template directory that each run copies)
// with what it holds, and the snapshot to install.
struct InstallCase {
  std::string name;
  std::string template_dir;
  uint64_t covered = 0;
  // The old state as a replaying reader sees it.
  uint64_t old_snapshot_lsn = 0;
  std::vector<WalRecord> old_snapshot;
  std::vector<WalRecord> old_tail;  // from old_snapshot_lsn + 1
  std::vector<std::string> old_segments;
};

WalOptions SmallSegments() {
  WalOptions options;
  options.segment_bytes = 256;
  return options;
}

// MakeInstallCase writes the template log in |dir|: |records| records, compacted at
// |compact_at| (0: not compacted).
InstallCase MakeInstallCase(const std::string& name, const std::string& dir, int records,
                            uint64_t compact_at, uint64_t covered) {
  InstallCase c;
  c.name = name;
  c.template_dir = dir;
  c.covered = covered;
  auto log = MustOpen(dir, SmallSegments());
  for (int i = 1; i <= records; ++i) {
    MustAppend(*log, 1, Payload(i, 40));
  }
  if (compact_at != 0) {
    EXPECT_TRUE(log->Compact(compact_at, LiveState()).ok());
    c.old_snapshot = ReadSnapshot(*log);
  }
  c.old_snapshot_lsn = compact_at;
  c.old_tail = ReadAll(*log, compact_at + 1);
  c.old_segments = SegmentNames(dir);
  return c;
}

void CopyDir(const std::string& from, const std::string& to) {
  std::error_code ignored;
  fs::remove_all(to, ignored);
  fs::copy(from, to, fs::copy_options::recursive);
}

enum class Outcome { kOld, kNew };

// ReopenAndCheck opens |dir| and returns whether it holds exactly the old log or exactly the
// installed snapshot, failing the test if it holds anything else.
Outcome ReopenAndCheck(const std::string& dir, const InstallCase& c, const std::string& when) {
  SCOPED_TRACE(c.name + ", " + when);
  auto log = MustOpen(dir, SmallSegments());
  if (log == nullptr) {
    return Outcome::kOld;
  }
  EXPECT_TRUE(NamesWithPrefix(dir, "install-").empty());
  if (log->snapshot_lsn() == c.covered) {
    ExpectInstalled(*log, dir, c.covered, LeaderState());
    EXPECT_EQ(MustAppend(*log, 2, "next"), c.covered + 1);
    return Outcome::kNew;
  }
  EXPECT_EQ(log->snapshot_lsn(), c.old_snapshot_lsn);
  if (c.old_snapshot_lsn != 0) {
    ExpectSameRecords(ReadSnapshot(*log), c.old_snapshot, c.old_snapshot_lsn);
  } else {
    EXPECT_TRUE(absl::IsNotFound(log->NewSnapshotReader().status()));
  }
  std::vector<WalRecord> tail = ReadAll(*log, c.old_snapshot_lsn + 1);
  EXPECT_EQ(tail.size(), c.old_tail.size());
  for (size_t i = 0; i < std::min(tail.size(), c.old_tail.size()); ++i) {
    EXPECT_EQ(tail[i].lsn, c.old_tail[i].lsn);
    EXPECT_EQ(tail[i].payload, c.old_tail[i].payload);
  }
  EXPECT_EQ(SegmentNames(dir), c.old_segments);
  const uint64_t next = c.old_snapshot_lsn + c.old_tail.size() + 1;
  EXPECT_EQ(log->durable_lsn(), next - 1);
  EXPECT_EQ(MustAppend(*log, 2, "next"), next);
  return Outcome::kOld;
}

std::vector<InstallCase> MakeInstallCases(const TempDir& root) {
  std::vector<InstallCase> cases;
  fs::create_directory(root.Sub("empty"));
  cases.push_back(MakeInstallCase("into an empty log", root.Sub("empty"), 0, 0, 50));
  fs::create_directory(root.Sub("behind"));
  cases.push_back(MakeInstallCase("into a log behind", root.Sub("behind"), 12, 5, 50));
  fs::create_directory(root.Sub("ahead"));
  cases.push_back(MakeInstallCase("into a log ahead", root.Sub("ahead"), 30, 25, 20));
  return cases;
}

TEST(WalInstallCrashTest, CrashBeforeAnyFileOperationLeavesTheOldOrTheNewLog) {
  TempDir root;
  const std::vector<InstallCase> cases = MakeInstallCases(root);
  const std::string dir = root.Sub("run");
  for (const InstallCase& c : cases) {
    // How many file operations a whole install takes.
    int total = 0;
    {
      CopyDir(c.template_dir, dir);
      PosixFileLayer posix;
      CrashingFileLayer crashing(&posix);
      auto log = MustOpen(dir, SmallSegments(), &crashing);
      ASSERT_NE(log, nullptr);
      crashing.Arm(0, CrashingFileLayer::Mode::kCrash);
      ASSERT_TRUE(log->InstallSnapshot(c.covered, LeaderState()).ok());
      total = crashing.ops();
    }
    ASSERT_GE(total, 10) << c.name;
    bool seen_new = false;
    bool checked_open_crashes = false;
    for (int nth = 1; nth <= total + 1; ++nth) {
      const std::string when = "crash at file operation " + std::to_string(nth);
      CopyDir(c.template_dir, dir);
      PosixFileLayer posix;
      FaultInjectingFileLayer faults(&posix);
      CrashingFileLayer crashing(&faults);
      {
        auto log = MustOpen(dir, SmallSegments(), &crashing);
        ASSERT_NE(log, nullptr);
        crashing.Arm(nth, CrashingFileLayer::Mode::kCrash);
        absl::Status status = log->InstallSnapshot(c.covered, LeaderState());
        EXPECT_EQ(status.ok(), nth > total) << c.name << ", " << when << ": " << status;
      }
      ASSERT_TRUE(faults.Crash().ok());
      const bool pending = !NamesWithPrefix(dir, "install-").empty() &&
                           NamesWithPrefix(dir, "install-")[0].ends_with(".snap");
      if (pending && !checked_open_crashes) {
        // A committed install that Open must finish: crash Open itself at each step too.
        checked_open_crashes = true;
        const std::string saved = root.Sub("saved");
        CopyDir(dir, saved);
        for (int open_nth = 1; open_nth <= 12; ++open_nth) {
          CopyDir(saved, dir);
          PosixFileLayer posix2;
          FaultInjectingFileLayer faults2(&posix2);
          CrashingFileLayer crashing2(&faults2);
          crashing2.Arm(open_nth, CrashingFileLayer::Mode::kCrash);
          {
            absl::StatusOr<std::unique_ptr<WriteAheadLog>> log =
                WriteAheadLog::Open(dir, SmallSegments(), &crashing2);
            EXPECT_EQ(log.ok(), !crashing2.tripped());
          }
          ASSERT_TRUE(faults2.Crash().ok());
          EXPECT_EQ(ReopenAndCheck(dir, c,
                                   when + ", then at Open's operation " + std::to_string(open_nth)),
                    Outcome::kNew);
        }
        CopyDir(saved, dir);
        auto log = MustOpen(dir, SmallSegments());
        ASSERT_NE(log, nullptr);
        EXPECT_EQ(log->recovery_report().install_finished_lsn, c.covered);
      }
      Outcome outcome = ReopenAndCheck(dir, c, when);
      // The commit point is one operation: old before it, new from it on.
      if (seen_new) {
        EXPECT_EQ(outcome, Outcome::kNew) << c.name << ", " << when;
      }
      seen_new = seen_new || outcome == Outcome::kNew;
      if (nth == 1) {
        EXPECT_EQ(outcome, Outcome::kOld) << c.name;
      }
    }
    EXPECT_TRUE(seen_new) << c.name;
    EXPECT_TRUE(checked_open_crashes) << c.name;
  }
}

TEST(WalInstallCrashTest, FailedFileOperationLeavesAHealthyOldLogOrAStoppedOne) {
  TempDir root;
  const std::vector<InstallCase> cases = MakeInstallCases(root);
  const std::string dir = root.Sub("run");
  for (const InstallCase& c : cases) {
    bool seen_healthy = false;
    bool seen_stopped = false;
    for (int nth = 1;; ++nth) {
      const std::string when = "failure of file operation " + std::to_string(nth);
      CopyDir(c.template_dir, dir);
      PosixFileLayer posix;
      CrashingFileLayer crashing(&posix);
      const uint64_t old_durable = c.old_snapshot_lsn + c.old_tail.size();
      bool done = false;
      {
        auto log = MustOpen(dir, SmallSegments(), &crashing);
        ASSERT_NE(log, nullptr);
        crashing.Arm(nth, CrashingFileLayer::Mode::kOneFailure);
        absl::Status status = log->InstallSnapshot(c.covered, LeaderState());
        if (!crashing.tripped()) {
          ASSERT_TRUE(status.ok()) << status;
          done = true;
        } else if (log->healthy()) {
          // Failed before the commit point: the old log, still taking records.
          seen_healthy = true;
          EXPECT_FALSE(status.ok()) << c.name << ", " << when;
          EXPECT_EQ(log->durable_lsn(), old_durable) << c.name << ", " << when;
          EXPECT_EQ(log->snapshot_lsn(), c.old_snapshot_lsn);
          absl::StatusOr<uint64_t> lsn = log->AppendAndWait(2, "survives");
          EXPECT_TRUE(lsn.ok()) << lsn.status();
          EXPECT_EQ(*lsn, old_durable + 1);
        } else {
          // At or after it: stopped, acknowledging nothing more.
          seen_stopped = true;
          EXPECT_FALSE(status.ok()) << c.name << ", " << when;
          EXPECT_TRUE(absl::IsUnavailable(log->AppendAndWait(2, "refused").status()));
        }
      }
      if (done) {
        break;
      }
      auto log = MustOpen(dir, SmallSegments());
      ASSERT_NE(log, nullptr) << c.name << ", " << when;
      if (log->snapshot_lsn() == c.covered) {
        SCOPED_TRACE(c.name + ", " + when);
        ExpectInstalled(*log, dir, c.covered, LeaderState());
      } else {
        // The old log, plus the record appended after the failed install if it stayed healthy.
        EXPECT_EQ(log->snapshot_lsn(), c.old_snapshot_lsn) << c.name << ", " << when;
        std::vector<WalRecord> tail = ReadAll(*log, c.old_snapshot_lsn + 1);
        ASSERT_GE(tail.size(), c.old_tail.size()) << c.name << ", " << when;
        ASSERT_LE(tail.size(), c.old_tail.size() + 1) << c.name << ", " << when;
        for (size_t i = 0; i < c.old_tail.size(); ++i) {
          EXPECT_EQ(tail[i].payload, c.old_tail[i].payload);
        }
        if (tail.size() > c.old_tail.size()) {
          EXPECT_EQ(tail.back().payload, "survives");
        }
      }
    }
    EXPECT_TRUE(seen_healthy) << c.name;
    EXPECT_TRUE(seen_stopped) << c.name;
  }
}

// ---- Tools ----

TEST(WalToolsTest, DumpPrintsEveryRecordReadably) {
  TempDir dir;
  {
    auto log = MustOpen(dir.path());
    MustAppend(*log, 7, "jti-123");
    MustAppend(*log, 9, std::string("\x00\x01\xff\"", 4));
    MustAppend(*log, 7, std::string(100, 'q'));
  }
  WalDumpOptions options;
  options.type_name = [](uint16_t type) { return type == 7 ? std::string("revoke_jti") : ""; };
  options.preview_bytes = 10;
  char* dump = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&dump, &size);
  absl::Status status = DumpWal(dir.path(), out, options);
  fclose(out);
  std::string text(dump, size);
  free(dump);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(text, HasSubstr("lsn=1 type=7 (revoke_jti) size=7 payload=\"jti-123\""));
  EXPECT_THAT(text, HasSubstr("lsn=2 type=9 size=4 payload=\"\\x00\\x01\\xff\\x22\""));
  EXPECT_THAT(text, HasSubstr("lsn=3 type=7 (revoke_jti) size=100 payload=\"qqqqqqqqqq...\""));
  EXPECT_THAT(text, HasSubstr("3 records, LSNs 1..3"));
}

TEST(WalToolsTest, DumpReportsDamage) {
  TempDir dir;
  std::vector<uint64_t> offsets = WriteLog(dir.path(), {Payload(1), Payload(2), Payload(3)});
  std::string bytes = ReadWholeFile(SegmentPath(dir.path(), 1));
  bytes[offsets[0] + 17] ^= 0x01;
  WriteWholeFile(SegmentPath(dir.path(), 1), bytes);
  char* dump = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&dump, &size);
  absl::Status status = DumpWal(dir.path(), out);
  fclose(out);
  std::string text(dump, size);
  free(dump);
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(text, HasSubstr("DAMAGED"));
  EXPECT_THAT(text, HasSubstr("byte offset 32"));
}

// ---- The fault layer itself ----

TEST(FaultInjectingFileLayerTest, CrashDropsUnsyncedBytesAndUnsyncedCreations) {
  TempDir dir;
  PosixFileLayer posix;
  FaultInjectingFileLayer faults(&posix);
  {
    auto file = faults.OpenWritable(dir.Sub("a"), WriteMode::kCreateExclusive);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append("durable").ok());
    ASSERT_TRUE((*file)->Sync().ok());
    ASSERT_TRUE(faults.SyncDir(dir.path()).ok());
    ASSERT_TRUE((*file)->Append("-lost").ok());
    auto other = faults.OpenWritable(dir.Sub("b"), WriteMode::kCreateExclusive);
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE((*other)->Append("x").ok());
    ASSERT_TRUE((*other)->Sync().ok());  // data synced, but its directory entry never was
  }
  ASSERT_TRUE(faults.Crash().ok());
  EXPECT_EQ(ReadWholeFile(dir.Sub("a")), "durable");
  EXPECT_FALSE(fs::exists(dir.Sub("b")));
  EXPECT_EQ(faults.syncs(), 2);
  EXPECT_EQ(faults.dir_syncs(), 1);
}

}  // namespace
}  // namespace ringward::revocation
