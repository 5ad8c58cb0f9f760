// server/bulk.h: reading the body of POST /v1/verify (many tokens in one request).
//
// Two forms:
//   text/plain (or no Content-Type): one token per line, LF or CRLF line ends, surrounding
//     spaces and tabs ignored; a final line end is optional. An empty line in the middle is a
//     token too (an invalid one), so result i always answers line i.
//   application/json: {"tokens":["...", ...]}; strict JSON (duplicate members, trailing bytes
//     and invalid UTF-8 refused), "tokens" required and holding strings only, other members
//     ignored.
// Both refuse an empty list (an auth proxy that forwards a POST without its body must never be
// answered 200) and more than |max_tokens| tokens (BulkError::kTooMany, answered 413).
//
// Thread-bound: a BulkParser belongs to one shard and reuses its buffers; the token views it
// returns stay valid until its next Parse call.
#ifndef RINGWARD_SERVER_BULK_H_
#define RINGWARD_SERVER_BULK_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "simdjson.h"

namespace ringward::server {

enum class BulkFormat : uint8_t {
  kText,
  kJson,
  kUnsupported,  // any other Content-Type: 415
};

// BulkFormatFor picks the format from a Content-Type value (media type compared
// case-insensitively, parameters such as charset ignored).
BulkFormat BulkFormatFor(std::string_view content_type);

enum class BulkError : uint8_t {
  kOk = 0,
  kEmpty,      // no tokens at all
  kTooMany,    // more than max_tokens
  kBadJson,    // not {"tokens":[strings]} in strict JSON
};

class BulkParser {
 public:
  BulkParser() = default;
  BulkParser(const BulkParser&) = delete;
  BulkParser& operator=(const BulkParser&) = delete;

  // Parse splits |body| in |format| (kText or kJson) into tokens(). On an error tokens() is
  // unspecified and message() says what is wrong, for the response body.
  BulkError Parse(BulkFormat format, std::string_view body, size_t max_tokens);

  const std::vector<std::string_view>& tokens() const { return tokens_; }
  std::string_view message() const { return message_; }

 private:
  BulkError ParseText(std::string_view body, size_t max_tokens);
  BulkError ParseJson(std::string_view body, size_t max_tokens);
  BulkError Fail(BulkError error, std::string_view message);

  std::vector<std::string_view> tokens_;
  std::string padded_;  // the JSON body followed by simdjson's padding
  simdjson::ondemand::parser parser_;
  std::string message_;
};

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_BULK_H_
