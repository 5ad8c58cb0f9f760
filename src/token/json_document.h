// token/json_document.h (private to src/token): what the header and claims parsers share —
// opening a padded JSON object with simdjson On-Demand and mapping JSON faults to reasons.
//
// Thread-bound through the caller's parser; no allocation.
#ifndef RINGWARD_TOKEN_JSON_DOCUMENT_H_
#define RINGWARD_TOKEN_JSON_DOCUMENT_H_

#include <cstddef>
#include <cstdint>

#include "ringward/base/json.h"
#include "ringward/token/verify_reason.h"
#include "simdjson.h"

namespace ringward::token {

// FromJsonError maps a strict-JSON fault to the verification reason that reports it.
inline VerifyReason FromJsonError(json::JsonError e) {
  switch (e) {
    case json::JsonError::kOk:
      return VerifyReason::kOk;
    case json::JsonError::kDuplicateMember:
      return VerifyReason::kDuplicateMember;
    default:
      return VerifyReason::kBadJson;
  }
}

// OpenObject starts iterating |len| bytes of JSON at |json| (followed by at least
// simdjson::SIMDJSON_PADDING readable bytes) and requires the root to be an object.
inline VerifyReason OpenObject(simdjson::ondemand::parser& parser, const uint8_t* json, size_t len,
                               simdjson::ondemand::document* doc,
                               simdjson::ondemand::object* object) {
  if (parser.iterate(json, len, len + simdjson::SIMDJSON_PADDING).get(*doc) != simdjson::SUCCESS) {
    return VerifyReason::kBadJson;
  }
  if (doc->get_object().get(*object) != simdjson::SUCCESS) {
    return VerifyReason::kBadJson;
  }
  return VerifyReason::kOk;
}

}  // namespace ringward::token

#endif  // RINGWARD_TOKEN_JSON_DOCUMENT_H_
