// Tests for the replication wire protocol (src/replication/protocol.h, protocol.md): frame
// encoders and decoders, the incremental FrameReader (split feeds, every single-byte corruption,
// random garbage) and the shared credential.
#include "replication/protocol.h"
#include "ringward/base/secret_digest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "revocation/wal_crc32c.h"
#include "revocation/wal_format.h"
#include "testing/temp_dir.h"

namespace ringward::replication {
namespace {

using revocation::wal_format::RecordView;
using ::testing::HasSubstr;

struct Frame {
  uint16_t type;
  uint64_t lsn;
  std::string payload;
  bool operator==(const Frame&) const = default;
};

// ReadAll feeds |bytes| to a fresh FrameReader in pieces of |step| bytes and collects the frames
// until the end or an error (returned in |*error|).
std::vector<Frame> ReadAll(std::string_view bytes, size_t step, absl::Status* error,
                           size_t* left_over = nullptr) {
  FrameReader reader;
  std::vector<Frame> frames;
  *error = absl::OkStatus();
  for (size_t at = 0; at < bytes.size() && error->ok(); at += step) {
    reader.Feed(bytes.substr(at, step));
    for (;;) {
      RecordView view;
      absl::StatusOr<bool> got = reader.Next(&view);
      if (!got.ok()) {
        *error = got.status();
        break;
      }
      if (!*got) {
        break;
      }
      frames.push_back(Frame{view.type, view.lsn, std::string(view.payload)});
    }
  }
  if (left_over != nullptr) {
    *left_over = reader.buffered();
  }
  return frames;
}

// A stream like the one a leader sends: a heartbeat, a snapshot, records, a heartbeat.
std::string SampleStream(std::vector<Frame>* frames) {
  std::string out;
  AppendHeartbeat(&out, 7, 1700000000123);
  AppendSnapshotBegin(&out, 5);
  AppendRecordFrame(&out, 0, 1, "snapshot record one");
  AppendRecordFrame(&out, 0, 33, std::string(300, 'x'));
  AppendSnapshotEnd(&out, 5, 2);
  AppendRecordFrame(&out, 6, 2, "revoke jti 42");
  AppendRecordFrame(&out, 7, 40, "");
  AppendHeartbeat(&out, 7, 1700000000323);
  if (frames != nullptr) {
    absl::Status error;
    *frames = ReadAll(out, out.size(), &error);
    EXPECT_TRUE(error.ok()) << error;
  }
  return out;
}

// Reframe builds a frame with arbitrary header fields and a correct CRC.
std::string Reframe(uint16_t type, uint16_t flags, uint64_t lsn, std::string_view payload) {
  std::string out;
  revocation::wal_format::AppendRecord(&out, lsn, type, payload);
  revocation::wal_format::PutU16(out.data() + 6, flags);
  const size_t covered = out.size() - 4;
  revocation::wal_format::PutU32(out.data() + covered,
                                 revocation::Crc32c(std::string_view(out).substr(0, covered)));
  return out;
}

TEST(ProtocolTest, ControlTypesAreAboveEveryRecordType) {
  EXPECT_FALSE(IsControlFrame(1));
  EXPECT_FALSE(IsControlFrame(63));
  EXPECT_FALSE(IsControlFrame(0xFEFF));
  EXPECT_TRUE(IsControlFrame(kFrameHeartbeat));
  EXPECT_TRUE(IsControlFrame(kFrameSnapshotBegin));
  EXPECT_TRUE(IsControlFrame(kFrameSnapshotEnd));
  EXPECT_TRUE(IsControlFrame(0xFFFF));
}

TEST(ProtocolTest, FramesRoundTripThroughTheReader) {
  std::vector<Frame> frames;
  SampleStream(&frames);
  ASSERT_EQ(frames.size(), 8u);
  EXPECT_EQ(frames[0].type, kFrameHeartbeat);
  EXPECT_EQ(frames[0].lsn, 7u);
  EXPECT_EQ(frames[1], (Frame{kFrameSnapshotBegin, 5, ""}));
  EXPECT_EQ(frames[2], (Frame{1, 0, "snapshot record one"}));
  EXPECT_EQ(frames[3], (Frame{33, 0, std::string(300, 'x')}));
  EXPECT_EQ(frames[4].type, kFrameSnapshotEnd);
  EXPECT_EQ(frames[5], (Frame{2, 6, "revoke jti 42"}));
  EXPECT_EQ(frames[6], (Frame{40, 7, ""}));
  EXPECT_EQ(frames[7].type, kFrameHeartbeat);
}

TEST(ProtocolTest, HeartbeatAndSnapshotEndDecode) {
  std::string bytes;
  AppendHeartbeat(&bytes, 123456789012345ull, 1700000000123);
  AppendSnapshotEnd(&bytes, 99, 4242);
  FrameReader reader;
  reader.Feed(bytes);
  RecordView heartbeat;
  ASSERT_TRUE(*reader.Next(&heartbeat));
  uint64_t lsn = 0;
  int64_t ms = 0;
  ASSERT_TRUE(DecodeHeartbeat(heartbeat, &lsn, &ms));
  EXPECT_EQ(lsn, 123456789012345ull);
  EXPECT_EQ(ms, 1700000000123);
  // The payload is the time as u64 little-endian.
  EXPECT_EQ(heartbeat.payload, std::string("\x7b\x68\xe5\xcf\x8b\x01\x00\x00", 8));
  uint64_t records = 0;
  EXPECT_FALSE(DecodeSnapshotEnd(heartbeat, &lsn, &records)) << "wrong type accepted";

  RecordView end;
  ASSERT_TRUE(*reader.Next(&end));
  ASSERT_TRUE(DecodeSnapshotEnd(end, &lsn, &records));
  EXPECT_EQ(lsn, 99u);
  EXPECT_EQ(records, 4242u);
  EXPECT_FALSE(DecodeHeartbeat(end, &lsn, &ms)) << "wrong type accepted";
  EXPECT_FALSE(*reader.Next(&end));
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(ProtocolTest, FramesAreExactlyWalRecords) {
  std::string ours;
  AppendRecordFrame(&ours, 17, 3, "payload");
  std::string wal;
  revocation::wal_format::AppendRecord(&wal, 17, 3, "payload");
  EXPECT_EQ(ours, wal);
  RecordView view;
  ASSERT_EQ(revocation::wal_format::ParseRecord(ours, &view),
            revocation::wal_format::ParseResult::kOk);
  EXPECT_EQ(view.lsn, 17u);
}

TEST(FrameReaderTest, AnySplitOfTheStreamGivesTheSameFrames) {
  std::vector<Frame> whole;
  const std::string stream = SampleStream(&whole);
  for (size_t step : {1, 2, 3, 7, 16, 19, 20, 64, 333}) {
    absl::Status error;
    size_t left = 99;
    EXPECT_EQ(ReadAll(stream, step, &error, &left), whole) << "step " << step;
    EXPECT_TRUE(error.ok()) << error;
    EXPECT_EQ(left, 0u);
  }
}

TEST(FrameReaderTest, PartialFrameIsBufferedNotReturned) {
  std::string stream;
  AppendRecordFrame(&stream, 1, 1, "abcdef");
  FrameReader reader;
  reader.Feed(std::string_view(stream).substr(0, stream.size() - 1));
  RecordView view;
  absl::StatusOr<bool> got = reader.Next(&view);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(*got);
  EXPECT_EQ(reader.buffered(), stream.size() - 1);
  reader.Feed(std::string_view(stream).substr(stream.size() - 1));
  ASSERT_TRUE(*reader.Next(&view));
  EXPECT_EQ(view.payload, "abcdef");
  EXPECT_EQ(reader.offset(), stream.size());
}

TEST(FrameReaderTest, ManySmallFramesAcrossTheCompactionThreshold) {
  // More than the reader's 64 KiB compaction threshold, fed in odd pieces: the buffer is moved
  // while frames are pending and every frame must still come out intact and in order.
  std::string stream;
  for (uint64_t lsn = 1; lsn <= 5000; ++lsn) {
    AppendRecordFrame(&stream, lsn, 1, std::string(lsn % 23, static_cast<char>('a' + lsn % 26)));
  }
  absl::Status error;
  std::vector<Frame> frames = ReadAll(stream, 4099, &error);
  ASSERT_TRUE(error.ok()) << error;
  ASSERT_EQ(frames.size(), 5000u);
  for (uint64_t lsn = 1; lsn <= 5000; ++lsn) {
    ASSERT_EQ(frames[lsn - 1].lsn, lsn);
    ASSERT_EQ(frames[lsn - 1].payload, std::string(lsn % 23, static_cast<char>('a' + lsn % 26)));
  }
}

TEST(FrameReaderTest, EverySingleByteCorruptionIsRejectedNeverAccepted) {
  std::vector<Frame> good;
  const std::string stream = SampleStream(&good);
  std::mt19937 random(20240601);
  for (size_t at = 0; at < stream.size(); ++at) {
    std::string bad = stream;
    bad[at] = static_cast<char>(bad[at] ^ (1 + random() % 255));
    absl::Status error;
    size_t left = 0;
    std::vector<Frame> frames = ReadAll(bad, 13, &error, &left);
    // Frames before the damaged one are returned unchanged; the damaged one never is.
    ASSERT_LT(frames.size(), good.size()) << "corruption at byte " << at << " went unnoticed";
    for (size_t i = 0; i < frames.size(); ++i) {
      ASSERT_EQ(frames[i], good[i]) << "corruption at byte " << at << " changed frame " << i;
    }
    // Either an error, or (a length field made larger) a frame still waiting for bytes.
    EXPECT_TRUE(absl::IsDataLoss(error) || (error.ok() && left > 0))
        << "byte " << at << ": " << error;
  }
}

TEST(FrameReaderTest, RandomGarbageNeverYieldsAFrame) {
  std::mt19937 random(7);
  for (int round = 0; round < 200; ++round) {
    std::string garbage(1 + random() % 600, '\0');
    for (char& c : garbage) {
      c = static_cast<char>(random());
    }
    absl::Status error;
    std::vector<Frame> frames = ReadAll(garbage, 1 + random() % 50, &error);
    EXPECT_TRUE(frames.empty()) << "round " << round;
  }
}

TEST(FrameReaderTest, ErrorIsStickyAndNamesTheOffset) {
  std::string stream;
  AppendRecordFrame(&stream, 1, 1, "fine");
  const size_t second = stream.size();
  AppendRecordFrame(&stream, 2, 1, "damaged");
  stream[second + 18] ^= 0x40;  // a payload byte: CRC mismatch
  AppendRecordFrame(&stream, 3, 1, "after");
  FrameReader reader;
  reader.Feed(stream);
  RecordView view;
  ASSERT_TRUE(*reader.Next(&view));
  absl::StatusOr<bool> got = reader.Next(&view);
  ASSERT_TRUE(absl::IsDataLoss(got.status())) << got.status();
  EXPECT_THAT(std::string(got.status().message()), HasSubstr(absl::StrCat("offset ", second)));
  reader.Feed("more");
  EXPECT_TRUE(absl::IsDataLoss(reader.Next(&view).status())) << "error not sticky";
}

TEST(FrameReaderTest, ImplausibleLengthIsRejectedAtOnce) {
  std::string stream = Reframe(1, 0, 1, "x");
  revocation::wal_format::PutU32(stream.data(), revocation::wal_format::kMaxPayloadSize + 1);
  FrameReader reader;
  reader.Feed(stream.substr(0, 16));  // the header alone is enough to know
  RecordView view;
  EXPECT_TRUE(absl::IsDataLoss(reader.Next(&view).status()));
}

TEST(FrameReaderTest, ValidChecksumButUndefinedFieldsAreRejected) {
  struct Case {
    const char* what;
    std::string bytes;
  };
  const Case cases[] = {
      {"flags", Reframe(1, 1, 1, "x")},
      {"type 0", Reframe(0, 0, 1, "x")},
      {"short heartbeat", Reframe(kFrameHeartbeat, 0, 1, "1234")},
      {"long snapshot_end", Reframe(kFrameSnapshotEnd, 0, 1, "123456789")},
      {"snapshot_begin with payload", Reframe(kFrameSnapshotBegin, 0, 1, "x")},
  };
  for (const Case& c : cases) {
    FrameReader reader;
    reader.Feed(c.bytes);
    RecordView view;
    EXPECT_TRUE(absl::IsDataLoss(reader.Next(&view).status())) << c.what;
  }
  // An unknown control type from a newer leader passes the reader (the follower ignores it).
  FrameReader reader;
  reader.Feed(Reframe(0xFF7A, 0, 0, "future"));
  RecordView view;
  ASSERT_TRUE(*reader.Next(&view));
  EXPECT_TRUE(IsControlFrame(view.type));
}

// --- Credential ---

TEST(CredentialTest, Alphabet) {
  EXPECT_TRUE(IsValidCredential("abcdefghijklmnop"));
  EXPECT_TRUE(IsValidCredential("AZaz09-._~+/AZaz09=="));
  EXPECT_FALSE(IsValidCredential("short"));
  EXPECT_FALSE(IsValidCredential(std::string(4097, 'a')));
  EXPECT_TRUE(IsValidCredential(std::string(4096, 'a')));
  EXPECT_FALSE(IsValidCredential("abcdefgh ijklmnop")) << "space";
  EXPECT_FALSE(IsValidCredential("abcdefgh=ijklmnop")) << "'=' only as trailing padding";
  EXPECT_FALSE(IsValidCredential("================")) << "padding alone";
  EXPECT_FALSE(IsValidCredential("abcdefghijklmnop\n"));
}

TEST(CredentialTest, MatchesOnlyTheExactSecret) {
  const SecretDigest check("s3cret-s3cret-s3cret");
  EXPECT_TRUE(check.Matches("s3cret-s3cret-s3cret"));
  EXPECT_FALSE(check.Matches("s3cret-s3cret-s3cre"));
  EXPECT_FALSE(check.Matches("s3cret-s3cret-s3cret "));
  EXPECT_FALSE(check.Matches("S3cret-s3cret-s3cret"));
  EXPECT_FALSE(check.Matches(""));
}

class LoadCredentialTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& content, mode_t mode) {
    const std::string path = dir_.path() + "/" + name;
    {
      std::ofstream out(path, std::ios::binary);
      out << content;
    }
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }
  test::TempDir dir_;
};

TEST_F(LoadCredentialTest, TrimsTheLine) {
  absl::StatusOr<std::string> secret =
      LoadCredential(Write("c", "  q1w2e3r4t5y6u7i8o9p0==\n", 0600));
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(*secret, "q1w2e3r4t5y6u7i8o9p0==");
}

TEST_F(LoadCredentialTest, RefusesAFileOthersCanRead) {
  const std::string path = Write("c", "q1w2e3r4t5y6u7i8o9p0\n", 0640);
  absl::StatusOr<std::string> secret = LoadCredential(path);
  ASSERT_TRUE(absl::IsFailedPrecondition(secret.status())) << secret.status();
  EXPECT_THAT(std::string(secret.status().message()), HasSubstr("chmod 600"));
  EXPECT_THAT(std::string(secret.status().message()), HasSubstr(path));
}

TEST_F(LoadCredentialTest, RefusesBadContentAndMissingFiles) {
  EXPECT_TRUE(absl::IsInvalidArgument(LoadCredential(Write("a", "too short\n", 0600)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      LoadCredential(Write("b", "two\nlines-lines-lines\n", 0600)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(LoadCredential(Write("e", "", 0600)).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(LoadCredential(dir_.path() + "/missing").status()));
}

}  // namespace
}  // namespace ringward::replication
