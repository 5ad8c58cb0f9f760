// Tests for the write-ahead log (ringward/revocation/wal.h, wal_tools.h, wal_file_layer.h and
// src/revocation/wal_format.h). The corruption tests are part of the format's definition
// (wal_format.md): torn tails at every byte, every single-bit flip, implausible lengths, gaps.
#include "ringward/revocation/wal.h"

#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
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
