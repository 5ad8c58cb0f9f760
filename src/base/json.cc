#include "ringward/base/json.h"

#include "ringward/base/strings.h"

namespace ringward::json {
namespace {

JsonError FromSimdjson(simdjson::error_code error) {
  return error == simdjson::SUCCESS ? JsonError::kOk : JsonError::kSyntax;
}

JsonError CheckObject(simdjson::ondemand::object object, int depth) {
  DuplicateTracker seen;
  for (auto field : object) {
    std::string_view name;
    if (field.unescaped_key().get(name) != simdjson::SUCCESS) {
      return JsonError::kSyntax;
    }
    if (JsonError e = seen.Add(name); e != JsonError::kOk) {
      return e;
    }
    simdjson::ondemand::value value;
    if (field.value().get(value) != simdjson::SUCCESS) {
      return JsonError::kSyntax;
    }
    if (JsonError e = CheckValue(value, depth + 1); e != JsonError::kOk) {
      return e;
    }
  }
  return JsonError::kOk;
}

JsonError CheckArray(simdjson::ondemand::array array, int depth) {
  for (auto element : array) {
    simdjson::ondemand::value value;
    if (element.get(value) != simdjson::SUCCESS) {
      return JsonError::kSyntax;
    }
    if (JsonError e = CheckValue(value, depth + 1); e != JsonError::kOk) {
      return e;
    }
  }
  return JsonError::kOk;
}

}  // namespace

JsonError CheckValue(simdjson::ondemand::value value, int depth) {
  if (depth > kMaxDepth) {
    return JsonError::kTooDeep;
  }
  simdjson::ondemand::json_type type;
  if (value.type().get(type) != simdjson::SUCCESS) {
    return JsonError::kSyntax;
  }
  switch (type) {
    case simdjson::ondemand::json_type::object: {
      simdjson::ondemand::object object;
      if (value.get_object().get(object) != simdjson::SUCCESS) {
        return JsonError::kSyntax;
      }
      return CheckObject(object, depth);
    }
    case simdjson::ondemand::json_type::array: {
      simdjson::ondemand::array array;
      if (value.get_array().get(array) != simdjson::SUCCESS) {
        return JsonError::kSyntax;
      }
      return CheckArray(array, depth);
    }
    case simdjson::ondemand::json_type::string: {
      std::string_view s;
      return FromSimdjson(value.get_string().get(s));
    }
    case simdjson::ondemand::json_type::number: {
      const std::string_view raw = value.raw_json_token();
      simdjson::ondemand::number n;
      if (value.get_number().get(n) == simdjson::SUCCESS) {
        return JsonError::kOk;
      }
      // Integers beyond 64 bits are valid JSON that simdjson declines to represent.
      return IsJsonNumberToken(raw) ? JsonError::kOk : JsonError::kSyntax;
    }
    case simdjson::ondemand::json_type::boolean: {
      bool b;
      return FromSimdjson(value.get_bool().get(b));
    }
    case simdjson::ondemand::json_type::null: {
      bool is_null = false;
      if (value.is_null().get(is_null) != simdjson::SUCCESS || !is_null) {
        return JsonError::kSyntax;
      }
      return JsonError::kOk;
    }
  }
  return JsonError::kSyntax;
}

bool IsJsonNumberToken(std::string_view raw) {
  size_t i = 0;
  const size_t n = raw.size();
  auto digit = [&](size_t k) { return k < n && raw[k] >= '0' && raw[k] <= '9'; };
  if (i < n && raw[i] == '-') {
    ++i;
  }
  if (!digit(i)) {
    return false;
  }
  if (raw[i] == '0') {
    ++i;
  } else {
    while (digit(i)) {
      ++i;
    }
  }
  if (i < n && raw[i] == '.') {
    ++i;
    if (!digit(i)) {
      return false;
    }
    while (digit(i)) {
      ++i;
    }
  }
  if (i < n && (raw[i] == 'e' || raw[i] == 'E')) {
    ++i;
    if (i < n && (raw[i] == '+' || raw[i] == '-')) {
      ++i;
    }
    if (!digit(i)) {
      return false;
    }
    while (digit(i)) {
      ++i;
    }
  }
  for (; i < n; ++i) {
    if (raw[i] != ' ' && raw[i] != '\t' && raw[i] != '\n' && raw[i] != '\r') {
      return false;
    }
  }
  return true;
}

JsonError CheckEnd(simdjson::ondemand::document& doc) {
  // current_location() fails with OUT_OF_BOUNDS exactly when the iterator has consumed the
  // last structural token; anything else means content follows the root value.
  const char* location = nullptr;
  const simdjson::error_code error = doc.current_location().get(location);
  return error == simdjson::OUT_OF_BOUNDS ? JsonError::kOk : JsonError::kSyntax;
}

std::string_view JsonErrorName(JsonError error) {
  switch (error) {
    case JsonError::kOk:
      return "ok";
    case JsonError::kSyntax:
      return "malformed JSON";
    case JsonError::kDuplicateMember:
      return "duplicate member name";
    case JsonError::kTooDeep:
      return "nested too deeply";
    case JsonError::kTooManyMembers:
      return "too many members in one object";
  }
  return "unknown";
}

void AppendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (u < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[u >> 4]);
          out->push_back(kHex[u & 0xf]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

std::string JsonQuote(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

absl::Status ValidateStrict(simdjson::ondemand::parser& parser, std::string_view json) {
  simdjson::padded_string padded(json);
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("malformed JSON");
  }
  // A scalar document cannot be turned into a value; only objects and arrays are accepted here.
  simdjson::ondemand::value root;
  JsonError error = JsonError::kSyntax;
  if (doc.get_value().get(root) == simdjson::SUCCESS) {
    error = CheckValue(root, 1);
  }
  if (error == JsonError::kOk) {
    error = CheckEnd(doc);
  }
  if (error != JsonError::kOk) {
    return absl::InvalidArgumentError(ToAbsl(JsonErrorName(error)));
  }
  return absl::OkStatus();
}

}  // namespace ringward::json
