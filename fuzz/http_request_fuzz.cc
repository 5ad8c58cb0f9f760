// libFuzzer target for the HTTP/1.1 request parser.
//
// Input layout: byte 0 picks a set of limits, byte 1 seeds the split points, the rest is the
// receive buffer. For every input it checks that
//  - a one-shot parse (on an exact-size copy, so ASan sees any read past the end) satisfies the
//    result invariants: consumed <= size, consumed != 0 exactly when complete, every view inside
//    the request, limits respected, names are tokens, values trimmed and free of CR/LF;
//  - feeding the same bytes in growing prefixes to one RequestParser (the resume path, with the
//    bytes not yet "received" poisoned for ASan) gives kIncomplete until it gives exactly the
//    one-shot result with the same fields, and that each prefix parsed from scratch agrees;
//  - a complete request re-parses to the same fields from exactly its own bytes;
//  - pipelined requests after the first one satisfy the invariants and parse as if alone.
// A violated invariant calls abort() so libFuzzer records the input.
#include <sanitizer/asan_interface.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "ringward/net/http/request_parser.h"

namespace {

using ringward::http::Header;
using ringward::http::Limits;
using ringward::http::ParseRequest;
using ringward::http::ParseResult;
using ringward::http::ParseStatus;
using ringward::http::Request;
using ringward::http::RequestParser;
using ringward::http::Version;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

Limits PickLimits(uint8_t selector) {
  Limits limits;
  switch (selector % 4) {
    case 0:
      break;  // the defaults: 8 KiB head, 1 MiB body, 64 headers
    case 1:
      limits.max_head_bytes = 64;
      limits.max_body_bytes = 16;
      limits.max_headers = 4;
      break;
    case 2:
      limits.max_head_bytes = 300;
      limits.max_body_bytes = 1000;
      limits.max_headers = 1000;  // clamped to kMaxHeaders
      break;
    default:
      limits.max_head_bytes = 1;
      limits.max_body_bytes = 0;
      limits.max_headers = 0;
      break;
  }
  return limits;
}

bool Inside(std::string_view v, const char* begin, size_t size) {
  const auto b = reinterpret_cast<uintptr_t>(begin);
  const auto p = reinterpret_cast<uintptr_t>(v.data());
  return v.empty() || (p >= b && p + v.size() <= b + size);
}

bool IsTchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// Offset is a view's position relative to its buffer, so parses of the same bytes at different
// addresses can be compared; views outside the buffer (the static "/") compare by content.
struct Offset {
  intptr_t at;
  size_t size;
  bool outside;
  bool operator==(const Offset& o) const {
    return at == o.at && size == o.size && outside == o.outside;
  }
};

Offset OffsetOf(std::string_view v, const char* begin, size_t size) {
  if (v.empty()) {
    return {0, 0, false};
  }
  if (!Inside(v, begin, size)) {
    return {v == "/" ? 1 : -1, v.size(), true};
  }
  return {reinterpret_cast<intptr_t>(v.data()) - reinterpret_cast<intptr_t>(begin), v.size(),
          false};
}

bool SameFields(const Request& a, const char* a_begin, const Request& b, const char* b_begin,
                size_t size) {
  auto same = [&](std::string_view x, std::string_view y) {
    return OffsetOf(x, a_begin, size) == OffsetOf(y, b_begin, size);
  };
  if (a.method != b.method || a.version != b.version || a.header_count != b.header_count ||
      a.has_content_length != b.has_content_length || a.content_length != b.content_length ||
      a.keep_alive != b.keep_alive || a.expect_continue != b.expect_continue ||
      a.has_host != b.has_host) {
    return false;
  }
  if (!same(a.method_token, b.method_token) || !same(a.target, b.target) || !same(a.path, b.path) ||
      !same(a.query, b.query) || !same(a.authority, b.authority) || !same(a.body, b.body) ||
      !same(a.host, b.host) || !same(a.authorization, b.authorization) ||
      !same(a.content_type, b.content_type)) {
    return false;
  }
  for (size_t i = 0; i < a.header_count; ++i) {
    if (!same(a.headers[i].name, b.headers[i].name) ||
        !same(a.headers[i].value, b.headers[i].value)) {
      return false;
    }
  }
  return true;
}

bool SameResult(const ParseResult& a, const ParseResult& b) {
  return a.status == b.status && a.consumed == b.consumed && a.head_size == b.head_size &&
         a.total_size == b.total_size;
}

// CheckResult asserts what must hold for |r| from parsing |size| bytes at |begin|.
void CheckResult(const ParseResult& r, const Request& req, const char* begin, size_t size,
                 const Limits& limits) {
  FUZZ_CHECK(static_cast<size_t>(r.status) < ringward::http::kParseStatusCount);
  FUZZ_CHECK(r.consumed <= size);
  FUZZ_CHECK((r.consumed != 0) == (r.status == ParseStatus::kComplete));
  if (ringward::http::IsParseError(r.status)) {
    return;
  }
  const size_t max_headers = limits.max_headers < ringward::http::kMaxHeaders
                                 ? limits.max_headers
                                 : ringward::http::kMaxHeaders;
  if (r.status == ParseStatus::kIncomplete) {
    if (r.total_size != 0) {
      FUZZ_CHECK(r.head_size != 0 && r.head_size <= size && size < r.total_size);
      FUZZ_CHECK(r.head_size <= limits.max_head_bytes);
    } else {
      FUZZ_CHECK(r.head_size == 0);
      FUZZ_CHECK(size < limits.max_head_bytes);  // otherwise kHeadTooLarge was due
      return;                                    // the head fields are not valid yet
    }
  } else {
    FUZZ_CHECK(r.consumed == r.total_size);
    FUZZ_CHECK(r.head_size != 0 && r.head_size <= r.consumed);
    FUZZ_CHECK(r.head_size <= limits.max_head_bytes);
    FUZZ_CHECK(req.body.size() == req.content_length);
    FUZZ_CHECK(req.content_length == 0 || req.body.data() == begin + r.head_size);
  }
  FUZZ_CHECK(r.total_size == r.head_size + req.content_length);
  FUZZ_CHECK(req.content_length <= limits.max_body_bytes);
  FUZZ_CHECK(req.has_content_length || req.content_length == 0);
  FUZZ_CHECK(req.header_count <= max_headers);
  FUZZ_CHECK(!req.method_token.empty() && Inside(req.method_token, begin, r.head_size));
  FUZZ_CHECK(!req.target.empty() && Inside(req.target, begin, r.head_size));
  FUZZ_CHECK(Inside(req.path, begin, r.head_size) || req.path == "/");
  FUZZ_CHECK(!req.path.empty());
  FUZZ_CHECK(Inside(req.query, begin, r.head_size));
  FUZZ_CHECK(Inside(req.authority, begin, r.head_size));
  FUZZ_CHECK(Inside(req.host, begin, r.head_size));
  FUZZ_CHECK(Inside(req.authorization, begin, r.head_size));
  FUZZ_CHECK(Inside(req.content_type, begin, r.head_size));
  FUZZ_CHECK(req.version == Version::kHttp10 || req.has_host);
  FUZZ_CHECK(req.version == Version::kHttp11 || !req.expect_continue);
  for (size_t i = 0; i < req.header_count; ++i) {
    const Header& h = req.headers[i];
    FUZZ_CHECK(!h.name.empty() && Inside(h.name, begin, r.head_size));
    FUZZ_CHECK(Inside(h.value, begin, r.head_size));
    for (const char c : h.name) {
      FUZZ_CHECK(IsTchar(c));
    }
    for (const char c : h.value) {
      FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
    }
    if (!h.value.empty()) {
      FUZZ_CHECK(h.value.front() != ' ' && h.value.front() != '\t');
      FUZZ_CHECK(h.value.back() != ' ' && h.value.back() != '\t');
    }
    FUZZ_CHECK(req.FindHeader(h.name) != nullptr);
  }
  for (const char c : req.target) {
    FUZZ_CHECK(c > 0x20 && c < 0x7f);
  }
}

// ParseCopy parses an exact-size heap copy of |input|, so any read past it is an ASan report.
ParseResult ParseCopy(std::string_view input, const Limits& limits, Request* req,
                      std::unique_ptr<char[]>* storage) {
  storage->reset(new char[input.size() == 0 ? 1 : input.size()]);
  if (!input.empty()) {
    std::memcpy(storage->get(), input.data(), input.size());
  }
  return ParseRequest(std::string_view(storage->get(), input.size()), limits, req);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) {
    return 0;
  }
  const Limits limits = PickLimits(data[0]);
  uint32_t rng = data[1] * 2654435761u + 1;
  const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  const size_t n = input.size();

  // 1. One shot over the whole input.
  std::unique_ptr<char[]> whole_storage;
  Request whole;
  const ParseResult expected = ParseCopy(input, limits, &whole, &whole_storage);
  CheckResult(expected, whole, whole_storage.get(), n, limits);

  // 2. A complete request parses the same from exactly its own bytes.
  if (expected.status == ParseStatus::kComplete) {
    std::unique_ptr<char[]> own_storage;
    Request own;
    const ParseResult again =
        ParseCopy(input.substr(0, expected.consumed), limits, &own, &own_storage);
    FUZZ_CHECK(SameResult(again, expected));
    FUZZ_CHECK(SameFields(own, own_storage.get(), whole, whole_storage.get(), expected.consumed));
  }

  // 3. The same bytes arriving in pieces, in one buffer whose unreceived tail is poisoned.
  std::unique_ptr<char[]> growing(new char[n == 0 ? 1 : n]);
  if (n != 0) {
    std::memcpy(growing.get(), input.data(), n);
  }
  ASAN_POISON_MEMORY_REGION(growing.get(), n);
  RequestParser parser(limits);
  Request resumed;
  size_t received = 0;
  while (true) {
    // Small inputs are fed one byte at a time, larger ones at random points.
    size_t step = 1;
    if (n > 64) {
      rng = rng * 1103515245u + 12345u;
      step = 1 + (rng >> 16) % (n / 4 + 1);
    }
    received = received + step > n ? n : received + step;
    ASAN_UNPOISON_MEMORY_REGION(growing.get(), received);
    const std::string_view prefix(growing.get(), received);
    const ParseResult r = parser.Parse(prefix, &resumed);
    CheckResult(r, resumed, growing.get(), received, limits);

    // The prefix parsed from scratch at another address must agree with the resumed parse.
    std::unique_ptr<char[]> fresh_storage;
    Request fresh;
    const ParseResult f = ParseCopy(prefix, limits, &fresh, &fresh_storage);
    FUZZ_CHECK(SameResult(f, r));
    if (r.status == ParseStatus::kComplete ||
        (r.status == ParseStatus::kIncomplete && r.head_size != 0)) {
      FUZZ_CHECK(SameFields(fresh, fresh_storage.get(), resumed, growing.get(), received));
    }

    if (r.status != ParseStatus::kIncomplete || received == n) {
      // Splitting never changes the outcome.
      FUZZ_CHECK(SameResult(r, expected));
      if (r.status == ParseStatus::kComplete) {
        FUZZ_CHECK(SameFields(resumed, growing.get(), whole, whole_storage.get(), n));
      }
      break;
    }
  }
  ASAN_UNPOISON_MEMORY_REGION(growing.get(), n);

  // 4. Pipelined requests: keep parsing what follows a complete request.
  std::string_view rest(whole_storage.get(), n);
  ParseResult r = expected;
  Request next;
  for (int i = 0; i < 16 && r.status == ParseStatus::kComplete; ++i) {
    rest.remove_prefix(r.consumed);
    r = parser.Parse(rest, &next);
    CheckResult(r, next, rest.data(), rest.size(), limits);
    // Nothing from the previous request leaks into the next one.
    std::unique_ptr<char[]> fresh_storage;
    Request fresh;
    const ParseResult f = ParseCopy(rest, limits, &fresh, &fresh_storage);
    FUZZ_CHECK(SameResult(f, r));
    if (r.status == ParseStatus::kComplete) {
      FUZZ_CHECK(SameFields(fresh, fresh_storage.get(), next, rest.data(), rest.size()));
    }
  }
  return 0;
}
