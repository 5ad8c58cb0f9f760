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
      simdjson::ondemand::number n;
      return FromSimdjson(value.get_number().get(n));
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
