#include "server/bulk.h"

#include "absl/strings/str_cat.h"
#include "ringward/base/json.h"
#include "ringward/base/strings.h"

namespace ringward::server {

namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (IsBlank(s.back()) || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace

BulkFormat BulkFormatFor(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  media = Trim(media);
  if (media.empty() || EqualsIgnoreCase(media, "text/plain")) {
    return BulkFormat::kText;
  }
  if (EqualsIgnoreCase(media, "application/json")) {
    return BulkFormat::kJson;
  }
  return BulkFormat::kUnsupported;
}

BulkError BulkParser::Fail(BulkError error, std::string_view message) {
  message_.assign(message);
  return error;
}

BulkError BulkParser::Parse(BulkFormat format, std::string_view body, size_t max_tokens) {
  tokens_.clear();
  message_.clear();
  const BulkError e =
      format == BulkFormat::kJson ? ParseJson(body, max_tokens) : ParseText(body, max_tokens);
  if (e != BulkError::kOk) {
    return e;
  }
  if (tokens_.empty()) {
    return Fail(BulkError::kEmpty, "no tokens in the request body");
  }
  return BulkError::kOk;
}

BulkError BulkParser::ParseText(std::string_view body, size_t max_tokens) {
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) {
      end = body.size();
    }
    if (tokens_.size() == max_tokens) {
      return Fail(BulkError::kTooMany,
                  absl::StrCat("too many tokens: at most ", max_tokens, " per request"));
    }
    tokens_.push_back(Trim(body.substr(pos, end - pos)));
    pos = end + 1;
  }
  return BulkError::kOk;
}

BulkError BulkParser::ParseJson(std::string_view body, size_t max_tokens) {
  padded_.assign(body);
  padded_.append(simdjson::SIMDJSON_PADDING, '\0');
  simdjson::ondemand::document doc;
  if (parser_.iterate(padded_.data(), body.size(), padded_.size()).get(doc) != simdjson::SUCCESS) {
    return Fail(BulkError::kBadJson, "the body is not JSON");
  }
  simdjson::ondemand::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) {
    return Fail(BulkError::kBadJson, "the body must be a JSON object {\"tokens\":[...]}");
  }
  json::DuplicateTracker names;
  bool saw_tokens = false;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) {
      return Fail(BulkError::kBadJson, "the body is not valid JSON");
    }
    if (names.Add(key) != json::JsonError::kOk) {
      return Fail(BulkError::kBadJson, "duplicate or too many members in the JSON object");
    }
    simdjson::ondemand::value value;
    if (field.value().get(value) != simdjson::SUCCESS) {
      return Fail(BulkError::kBadJson, "the body is not valid JSON");
    }
    if (key != "tokens") {
      if (json::CheckValue(value, 2) != json::JsonError::kOk) {
        return Fail(BulkError::kBadJson, "the body is not valid JSON");
      }
      continue;
    }
    saw_tokens = true;
    simdjson::ondemand::array array;
    if (value.get_array().get(array) != simdjson::SUCCESS) {
      return Fail(BulkError::kBadJson, "\"tokens\" must be an array of strings");
    }
    for (auto element : array) {
      std::string_view token;
      if (element.get_string().get(token) != simdjson::SUCCESS) {
        return Fail(BulkError::kBadJson, "\"tokens\" must be an array of strings");
      }
      if (tokens_.size() == max_tokens) {
        return Fail(BulkError::kTooMany,
                    absl::StrCat("too many tokens: at most ", max_tokens, " per request"));
      }
      tokens_.push_back(token);
    }
  }
  if (json::CheckEnd(doc) != json::JsonError::kOk) {
    return Fail(BulkError::kBadJson, "trailing bytes after the JSON object");
  }
  if (!saw_tokens) {
    return Fail(BulkError::kBadJson, "the JSON object has no \"tokens\" member");
  }
  return BulkError::kOk;
}

}  // namespace ringward::server
