// libFuzzer target for the replication stream's framing (replication/protocol.h): FrameReader,
// the frame encoders and the control-frame decoders.
//
// Input layout: byte 0 picks the mode and the chunking, byte 1 seeds the split points, the rest
// is either the stream itself (raw mode) or a program that builds a stream with the encoders
// (built mode: frames from the encoders, frames hand-framed with any header fields and a valid
// CRC32C, raw bytes and flipped bytes, so that the fuzzer reaches past the checksum).
// For every input it checks that
//  - feeding the stream to one FrameReader in random-sized chunks gives exactly the frames, and
//    the failure (at the same stream offset) or the incomplete tail, that a reference reading
//    of the whole stream with wal_format::ParseRecord and the rules in protocol.h gives;
//  - offset() + buffered() is always the number of bytes fed, offset() advances by each frame's
//    encoded size, and a failed reader stays failed with the same error, whatever is fed next;
//  - every frame has flags 0, a non-zero type, length == payload size; DecodeHeartbeat and
//    DecodeSnapshotEnd accept exactly the frames of their type (and, given any frame's payload
//    under their type, exactly the 8-byte ones); re-encoding a frame (with
//    AppendHeartbeat / AppendSnapshotBegin / AppendSnapshotEnd / AppendRecordFrame) gives its
//    bytes in the stream exactly, and a fresh FrameReader parses the re-encoding to the same
//    type, lsn and payload and nothing more;
//  - a built stream without injected damage reads back as exactly the frames that built it.
// A violated invariant calls abort() so libFuzzer records the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "replication/protocol.h"
#include "revocation/wal_format.h"
#include "ringward/base/strings.h"

namespace {

namespace wal_format = ringward::revocation::wal_format;
using ringward::replication::AppendHeartbeat;
using ringward::replication::AppendRecordFrame;
using ringward::replication::AppendSnapshotBegin;
using ringward::replication::AppendSnapshotEnd;
using ringward::replication::DecodeHeartbeat;
using ringward::replication::DecodeSnapshotEnd;
using ringward::replication::FrameReader;
using ringward::replication::IsControlFrame;
using ringward::replication::kControlFrameMin;
using ringward::replication::kFrameHeartbeat;
using ringward::replication::kFrameSnapshotBegin;
using ringward::replication::kFrameSnapshotEnd;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

// Frame is a frame copied out of the reader (its view dies at the next Feed or Next), with the
// stream offset it started at.
struct Frame {
  uint64_t offset = 0;
  uint32_t length = 0;
  uint16_t type = 0;
  uint16_t flags = 0;
  uint64_t lsn = 0;
  std::string payload;

  bool operator==(const Frame&) const = default;
};

// Outcome is how a whole stream reads: the frames, then either a failure at a stream offset or
// an incomplete tail of |tail| bytes (0 when the stream ended on a frame boundary).
struct Outcome {
  std::vector<Frame> frames;
  bool failed = false;
  uint64_t fail_offset = 0;
  size_t tail = 0;
};

// ByteSource hands out the input's bytes in order, and zeros once they run out.
class ByteSource {
 public:
  explicit ByteSource(std::string_view bytes) : bytes_(bytes) {}
  bool empty() const { return pos_ >= bytes_.size(); }
  uint8_t U8() { return pos_ < bytes_.size() ? static_cast<uint8_t>(bytes_[pos_++]) : 0; }
  uint16_t U16() { return static_cast<uint16_t>(U8() | (U8() << 8)); }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      v |= uint64_t{U8()} << (8 * i);
    }
    return v;
  }
  // Lsn favours small and boundary values, which a leader actually sends.
  uint64_t Lsn() {
    const uint8_t pick = U8();
    switch (pick % 4) {
      case 0:
        return pick / 4;
      case 1:
        return UINT64_MAX - pick / 4;
      default:
        return U64();
    }
  }
  std::string_view Take(size_t n) {
    const size_t left = pos_ < bytes_.size() ? bytes_.size() - pos_ : 0;
    const std::string_view out =
        bytes_.substr(pos_ < bytes_.size() ? pos_ : bytes_.size(), n < left ? n : left);
    pos_ += out.size();
    return out;
  }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

// Crc32c is CRC-32C (Castagnoli, reflected), bit by bit: the fuzzer's own, so that it can frame
// bytes the encoders never would (flags set, type 0, control payloads of the wrong size) with a
// checksum that passes, and reach the checks behind it.
uint32_t Crc32c(std::string_view bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (const char c : bytes) {
    crc ^= static_cast<uint8_t>(c);
    for (int k = 0; k < 8; ++k) {
      crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
  }
  return ~crc;
}

// ReferenceRead reads |stream| in one pass with wal_format::ParseRecord and the acceptance rules
// of FrameReader::Next as protocol.h states them; it shares no code with FrameReader.
Outcome ReferenceRead(std::string_view stream) {
  Outcome out;
  size_t pos = 0;
  while (true) {
    wal_format::RecordView view;
    const wal_format::ParseResult r = wal_format::ParseRecord(stream.substr(pos), &view);
    if (r == wal_format::ParseResult::kTruncated) {
      out.tail = stream.size() - pos;
      return out;
    }
    bool bad = r != wal_format::ParseResult::kOk;
    if (!bad) {
      bad = view.flags != 0 || view.type == 0 ||
            ((view.type == kFrameHeartbeat || view.type == kFrameSnapshotEnd) &&
             view.payload.size() != 8) ||
            (view.type == kFrameSnapshotBegin && !view.payload.empty());
    }
    if (bad) {
      out.failed = true;
      out.fail_offset = pos;
      return out;
    }
    out.frames.push_back(
        Frame{pos, view.length, view.type, view.flags, view.lsn, std::string(view.payload)});
    pos += wal_format::EncodedRecordSize(view.length);
  }
}

// Reencode encodes |f| again with the encoder a sender would use for its type.
std::string Reencode(const Frame& f) {
  std::string out;
  if (f.type == kFrameHeartbeat) {
    uint64_t lsn = 0;
    int64_t unix_ms = 0;
    wal_format::RecordView view;
    view.length = f.length;
    view.type = f.type;
    view.lsn = f.lsn;
    view.payload = f.payload;
    FUZZ_CHECK(DecodeHeartbeat(view, &lsn, &unix_ms));
    AppendHeartbeat(&out, lsn, unix_ms);
  } else if (f.type == kFrameSnapshotBegin) {
    AppendSnapshotBegin(&out, f.lsn);
  } else if (f.type == kFrameSnapshotEnd) {
    uint64_t lsn = 0;
    uint64_t records = 0;
    wal_format::RecordView view;
    view.length = f.length;
    view.type = f.type;
    view.lsn = f.lsn;
    view.payload = f.payload;
    FUZZ_CHECK(DecodeSnapshotEnd(view, &lsn, &records));
    AppendSnapshotEnd(&out, lsn, records);
  } else if (IsControlFrame(f.type)) {
    // A control type from a newer leader: AppendRecordFrame's contract excludes it, so it is
    // framed like the log does.
    wal_format::AppendRecord(&out, f.lsn, f.type, f.payload);
  } else {
    AppendRecordFrame(&out, f.lsn, f.type, f.payload);
  }
  return out;
}

// CheckFrame checks one frame the chunked reader returned against the stream it came from.
void CheckFrame(const wal_format::RecordView& view, const Frame& f, std::string_view stream) {
  FUZZ_CHECK(view.flags == 0);
  FUZZ_CHECK(view.type != 0);
  FUZZ_CHECK(view.length == view.payload.size());
  FUZZ_CHECK(view.length <= wal_format::kMaxPayloadSize);
  const size_t size = wal_format::EncodedRecordSize(view.length);
  FUZZ_CHECK(f.offset + size <= stream.size());
  // The view's payload is the stream's bytes after the header.
  FUZZ_CHECK(view.payload == stream.substr(f.offset + wal_format::kRecordHeaderSize, view.length));

  uint64_t lsn = 0;
  int64_t unix_ms = 0;
  uint64_t records = 0;
  const bool heartbeat = DecodeHeartbeat(view, &lsn, &unix_ms);
  FUZZ_CHECK(heartbeat == (view.type == kFrameHeartbeat));
  if (heartbeat) {
    FUZZ_CHECK(lsn == view.lsn);
    FUZZ_CHECK(static_cast<uint64_t>(unix_ms) == wal_format::GetU64(view.payload.data()));
  }
  const bool snapshot_end = DecodeSnapshotEnd(view, &lsn, &records);
  FUZZ_CHECK(snapshot_end == (view.type == kFrameSnapshotEnd));
  if (snapshot_end) {
    FUZZ_CHECK(lsn == view.lsn);
    FUZZ_CHECK(records == wal_format::GetU64(view.payload.data()));
  }
  FUZZ_CHECK(IsControlFrame(view.type) == (view.type >= kControlFrameMin));
  // The decoders take any view, not only what a reader passed: the frame's payload under a
  // control type decodes exactly when it has the 8 bytes defined.
  wal_format::RecordView as_control = view;
  as_control.type = kFrameHeartbeat;
  FUZZ_CHECK(DecodeHeartbeat(as_control, &lsn, &unix_ms) == (view.payload.size() == 8));
  as_control.type = kFrameSnapshotEnd;
  FUZZ_CHECK(DecodeSnapshotEnd(as_control, &lsn, &records) == (view.payload.size() == 8));

  // The fuzzer's CRC-32C agrees with the log's, so hand-framed frames do pass the checksum.
  FUZZ_CHECK(Crc32c(stream.substr(f.offset, size - wal_format::kRecordTrailerSize)) ==
             wal_format::GetU32(stream.data() + f.offset + size - wal_format::kRecordTrailerSize));

  // Frames are canonical: the encoder gives back the very bytes that were received.
  const std::string again = Reencode(f);
  FUZZ_CHECK(again == stream.substr(f.offset, size));

  // And a fresh reader reads the re-encoding as this one frame and nothing else.
  FrameReader fresh;
  fresh.Feed(again);
  wal_format::RecordView parsed;
  absl::StatusOr<bool> got = fresh.Next(&parsed);
  FUZZ_CHECK(got.ok() && *got);
  FUZZ_CHECK(parsed.type == view.type && parsed.lsn == view.lsn && parsed.flags == 0);
  FUZZ_CHECK(parsed.payload == view.payload);
  FUZZ_CHECK(fresh.offset() == size && fresh.buffered() == 0);
  got = fresh.Next(&parsed);
  FUZZ_CHECK(got.ok() && !*got);
}

// ChunkedRead feeds |stream| to one FrameReader in chunks whose sizes come from |rng| and pulls
// frames after every chunk, checking each frame and the reader's accounting as it goes.
Outcome ChunkedRead(std::string_view stream, uint8_t chunking, uint32_t rng) {
  Outcome out;
  FrameReader reader;
  absl::Status error;
  size_t fed = 0;
  const size_t n = stream.size();
  // The largest chunk: single bytes, small pieces, or pieces up to a quarter of the stream.
  size_t max_chunk = 1;
  switch (chunking % 4) {
    case 0:
      max_chunk = 1;
      break;
    case 1:
      max_chunk = 7;
      break;
    case 2:
      max_chunk = 64;
      break;
    default:
      max_chunk = n / 4 + 1;
      break;
  }
  // Built streams reach hundreds of KiB; byte-sized pieces of those would only cost time.
  if (max_chunk < n / 256) {
    max_chunk = n / 256;
  }
  while (true) {
    rng = rng * 1103515245u + 12345u;
    size_t step = (rng >> 16) % (max_chunk + 1);  // 0: an empty Feed, which must be harmless
    if (step > n - fed) {
      step = n - fed;
    }
    reader.Feed(stream.substr(fed, step));
    fed += step;
    FUZZ_CHECK(reader.offset() + reader.buffered() == fed);
    while (true) {
      const uint64_t before = reader.offset();
      wal_format::RecordView view;
      absl::StatusOr<bool> got = reader.Next(&view);
      if (!got.ok()) {
        FUZZ_CHECK(got.status().code() == absl::StatusCode::kDataLoss);
        if (error.ok()) {
          error = got.status();
          out.failed = true;
          out.fail_offset = before;
          // The message names the offset, so a follower's log says where the stream broke.
          FUZZ_CHECK(
              ringward::ToStd(error.message()).find(absl::StrCat("stream offset ", before)) !=
              std::string::npos);
        } else {
          FUZZ_CHECK(got.status() == error);  // sticky: the same error every time
        }
        FUZZ_CHECK(reader.offset() == before);
        break;
      }
      if (!*got) {
        FUZZ_CHECK(reader.offset() == before);
        break;
      }
      FUZZ_CHECK(!out.failed);
      Frame f{before, view.length, view.type, view.flags, view.lsn, std::string(view.payload)};
      CheckFrame(view, f, stream.substr(0, fed));
      FUZZ_CHECK(reader.offset() == before + wal_format::EncodedRecordSize(view.length));
      FUZZ_CHECK(reader.offset() + reader.buffered() == fed);
      out.frames.push_back(std::move(f));
    }
    if (fed == n) {
      break;
    }
  }
  out.tail = reader.buffered();
  if (out.failed) {
    // Nothing fed after a failure revives the reader.
    std::string more;
    AppendSnapshotBegin(&more, 1);
    reader.Feed(more);
    wal_format::RecordView view;
    absl::StatusOr<bool> got = reader.Next(&view);
    FUZZ_CHECK(!got.ok() && got.status() == error);
    out.tail = 0;
  }
  return out;
}

// BuildStream runs the program in |src| and returns the stream it builds. |*expected| gets the
// frames it encoded, and |*clean| says whether anything but whole frames went in.
std::string BuildStream(ByteSource* src, std::vector<Frame>* expected, bool* clean) {
  std::string stream;
  *clean = true;
  // The cap keeps an execution fast; frames of up to 4 MiB are the encoders' business.
  constexpr size_t kMaxStream = 512 << 10;
  while (!src->empty() && stream.size() < kMaxStream) {
    const uint8_t op = src->U8();
    const size_t start = stream.size();
    Frame f;
    switch (op % 8) {
      case 0: {
        const uint64_t lsn = src->Lsn();
        const int64_t unix_ms = static_cast<int64_t>(src->U64());
        AppendHeartbeat(&stream, lsn, unix_ms);
        f.type = kFrameHeartbeat;
        f.lsn = lsn;
        f.payload.resize(8);
        wal_format::PutU64(f.payload.data(), static_cast<uint64_t>(unix_ms));
        break;
      }
      case 1: {
        f.lsn = src->Lsn();
        AppendSnapshotBegin(&stream, f.lsn);
        f.type = kFrameSnapshotBegin;
        break;
      }
      case 2: {
        f.lsn = src->Lsn();
        const uint64_t records = src->Lsn();
        AppendSnapshotEnd(&stream, f.lsn, records);
        f.type = kFrameSnapshotEnd;
        f.payload.resize(8);
        wal_format::PutU64(f.payload.data(), records);
        break;
      }
      case 3:
      case 4: {
        // A log record: a revocation or issuance type, or any non-control type.
        const uint16_t raw = src->U16();
        f.type = op & 8
                     ? static_cast<uint16_t>(1 + raw % (kControlFrameMin - 1))
                     : static_cast<uint16_t>(raw % 2 == 0 ? 1 + raw / 2 % 15 : 32 + raw / 2 % 32);
        f.lsn = src->Lsn();
        f.payload = std::string(src->Take(src->U8()));
        AppendRecordFrame(&stream, f.lsn, f.type, f.payload);
        break;
      }
      case 5: {
        // A large record, so that frames span many chunks and the reader compacts its buffer.
        f.type = static_cast<uint16_t>(32 + op / 8 % 32);
        f.lsn = src->Lsn();
        const size_t size = size_t{src->U8()} * (op & 8 ? 512 : 16) + src->U8();
        const uint8_t fill = src->U8();
        f.payload.resize(size);
        for (size_t i = 0; i < size; ++i) {
          f.payload[i] = static_cast<char>(fill + i * 131);
        }
        AppendRecordFrame(&stream, f.lsn, f.type, f.payload);
        break;
      }
      case 6: {
        if (op & 8) {
          // Hand-framed with a valid checksum: any flags, type, lsn and payload size, and a
          // length field that may claim more than the payload (or more than kMaxPayloadSize).
          // Mostly the types whose rules the reader enforces: 0 and the defined control frames.
          static constexpr uint16_t kTypes[] = {
              0, kFrameHeartbeat, kFrameSnapshotBegin, kFrameSnapshotEnd, 1, 42};
          const uint8_t pick = src->U8();
          const uint16_t type = pick < 192 ? kTypes[pick % std::size(kTypes)] : src->U16();
          const uint16_t flags = src->U8() < 128 ? 0 : src->U16();
          const uint64_t lsn = src->Lsn();
          const std::string_view payload = src->Take(src->U8() % 24);
          const uint8_t lie = src->U8();
          uint32_t length = static_cast<uint32_t>(payload.size());
          if (lie >= 240) {
            length = lie % 2 ? wal_format::kMaxPayloadSize + 1 : UINT32_MAX;
          }
          std::string frame(wal_format::kRecordHeaderSize, '\0');
          wal_format::PutU32(frame.data(), length);
          wal_format::PutU16(frame.data() + 4, type);
          wal_format::PutU16(frame.data() + 6, flags);
          wal_format::PutU64(frame.data() + 8, lsn);
          frame.append(payload);
          char crc[4];
          wal_format::PutU32(crc, Crc32c(frame));
          frame.append(crc, sizeof(crc));
          stream.append(frame);
          *clean = false;
          continue;
        }
        // A control type this reader does not know, framed like the log does.
        f.type = static_cast<uint16_t>(kControlFrameMin + 4 + src->U8() % 0xFC);
        f.lsn = src->Lsn();
        f.payload = std::string(src->Take(src->U8() % 32));
        wal_format::AppendRecord(&stream, f.lsn, f.type, f.payload);
        break;
      }
      default: {
        // Damage: raw bytes, or one byte of what was built so far flipped.
        const uint8_t how = src->U8();
        if (how % 2 == 0 || stream.empty()) {
          stream.append(src->Take(how / 2 % 24 + 1));
        } else {
          const size_t at = src->U16() % stream.size();
          const uint8_t mask = src->U8();
          stream[at] = static_cast<char>(stream[at] ^ (mask == 0 ? 0x80 : mask));
        }
        *clean = false;
        continue;
      }
    }
    f.offset = start;
    f.length = static_cast<uint32_t>(f.payload.size());
    expected->push_back(std::move(f));
  }
  return stream;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) {
    return 0;
  }
  const uint8_t mode = data[0];
  const uint32_t rng = data[1] * 2654435761u + 1;
  const std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);

  std::string stream;
  std::vector<Frame> built;
  bool clean = false;
  const bool build = (mode & 0x80) != 0;
  if (build) {
    ByteSource src(rest);
    stream = BuildStream(&src, &built, &clean);
  } else {
    stream.assign(rest);
  }

  const Outcome reference = ReferenceRead(stream);
  const Outcome chunked = ChunkedRead(stream, mode, rng);
  // Splitting never changes what a stream reads as.
  FUZZ_CHECK(chunked.frames == reference.frames);
  FUZZ_CHECK(chunked.failed == reference.failed);
  FUZZ_CHECK(chunked.fail_offset == reference.fail_offset);
  FUZZ_CHECK(chunked.tail == reference.tail);

  if (build && clean) {
    // Whole frames from the encoders read back as exactly those frames.
    FUZZ_CHECK(!chunked.failed);
    FUZZ_CHECK(chunked.tail == 0);
    FUZZ_CHECK(chunked.frames == built);
  } else if (build) {
    // Damage cannot reach back: the built frames that the stream still starts with, unchanged,
    // read back before anything goes wrong.
    size_t intact = 0;
    size_t pos = 0;
    for (const Frame& f : built) {
      const std::string bytes = Reencode(f);
      if (f.offset != pos || std::string_view(stream).substr(pos, bytes.size()) != bytes) {
        break;
      }
      pos += bytes.size();
      ++intact;
    }
    FUZZ_CHECK(chunked.frames.size() >= intact);
    for (size_t i = 0; i < intact; ++i) {
      FUZZ_CHECK(chunked.frames[i] == built[i]);
    }
  }
  return 0;
}
