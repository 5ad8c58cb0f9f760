#include "ringward/token/verifier.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ringward/base/base64url.h"
#include "ringward/base/strings.h"
#include "ringward/token/jws.h"
#include "ringward/token/verified_cache.h"

namespace ringward::token {

std::string_view VerifyReasonName(VerifyReason reason) {
  switch (reason) {
    case VerifyReason::kOk:
      return "ok";
    case VerifyReason::kTooLarge:
      return "too_large";
    case VerifyReason::kMalformed:
      return "malformed";
    case VerifyReason::kBadBase64:
      return "bad_base64";
    case VerifyReason::kBadJson:
      return "bad_json";
    case VerifyReason::kDuplicateMember:
      return "duplicate_member";
    case VerifyReason::kUnsupportedAlgorithm:
      return "unsupported_algorithm";
    case VerifyReason::kUnsupportedHeader:
      return "unsupported_header";
    case VerifyReason::kUnknownKid:
      return "unknown_kid";
    case VerifyReason::kAlgMismatch:
      return "alg_mismatch";
    case VerifyReason::kBadSignature:
      return "bad_signature";
    case VerifyReason::kBadClaim:
      return "bad_claim";
    case VerifyReason::kMissingClaim:
      return "missing_claim";
    case VerifyReason::kExpired:
      return "expired";
    case VerifyReason::kNotYetValid:
      return "not_yet_valid";
    case VerifyReason::kWrongIssuer:
      return "wrong_issuer";
    case VerifyReason::kWrongAudience:
      return "wrong_audience";
    case VerifyReason::kWrongType:
      return "wrong_type";
    case VerifyReason::kRevoked:
      return "revoked";
    case VerifyReason::kCount:
      break;
  }
  return "unknown";
}

VerifyScratch::VerifyScratch(size_t max_token_size)
    : header_(new uint8_t[max_token_size + simdjson::SIMDJSON_PADDING]),
      payload_(new uint8_t[max_token_size + simdjson::SIMDJSON_PADDING]),
      capacity_(max_token_size) {
  // Size the parser once so that no document ringward accepts makes it grow on the hot path.
  // On failure the parser simply allocates on first use instead.
  if (parser_.allocate(max_token_size + simdjson::SIMDJSON_PADDING) != simdjson::SUCCESS) {
    return;
  }
}

absl::StatusOr<std::unique_ptr<Verifier>> Verifier::Create(std::shared_ptr<const KeySet> keys,
                                                           VerifyPolicy policy) {
  if (keys == nullptr || (keys->empty() && !policy.allow_no_keys)) {
    return absl::InvalidArgumentError("the key set is empty: give at least one verification key");
  }
  if (policy.issuers.empty()) {
    return absl::InvalidArgumentError(
        "no trusted issuer configured: a verifier must name the issuers it trusts");
  }
  for (const std::string& issuer : policy.issuers) {
    if (issuer.empty()) {
      return absl::InvalidArgumentError("a trusted issuer is the empty string");
    }
  }
  if (policy.leeway_seconds < 0 || policy.leeway_seconds > 3600) {
    return absl::InvalidArgumentError(
        absl::StrCat("leeway must be between 0 and 3600 seconds, not ", policy.leeway_seconds));
  }
  if (policy.max_token_size < 64 || policy.max_token_size > kLargestMaxTokenSize) {
    return absl::InvalidArgumentError(absl::StrCat("max token size must be between 64 and ",
                                                   kLargestMaxTokenSize, " bytes, not ",
                                                   policy.max_token_size));
  }
  return std::unique_ptr<Verifier>(new Verifier(std::move(keys), std::move(policy)));
}

Verifier::Verifier(std::shared_ptr<const KeySet> keys, VerifyPolicy policy)
    : keys_(std::move(keys)), policy_(std::move(policy)) {
  required_ = policy_.required_claims | kClaimExp | kClaimIss;
  if (!policy_.audiences.empty()) {
    required_ |= kClaimAud;
  }
  if (policy_.access_token_profile) {
    required_ |= kClaimIss | kClaimExp | kClaimAud | kClaimSub | kClaimClientId | kClaimIat |
                 kClaimJti;
  }
}

VerifyReason Verifier::CheckTimes(int64_t exp, int64_t nbf, int64_t iat, uint32_t present,
                                  int64_t now) const {
  const int64_t leeway = policy_.leeway_seconds;
  if ((present & kClaimExp) != 0 && now >= exp + leeway) {
    return VerifyReason::kExpired;
  }
  if ((present & kClaimNbf) != 0 && now + leeway < nbf) {
    return VerifyReason::kNotYetValid;
  }
  if ((present & kClaimIat) != 0 && now + leeway < iat) {
    return VerifyReason::kNotYetValid;
  }
  return VerifyReason::kOk;
}

VerifyReason Verifier::CheckClaims(const Claims& claims, int64_t now) const {
  if ((claims.present & required_) != required_) {
    return VerifyReason::kMissingClaim;
  }
  if (VerifyReason r = CheckTimes(claims.exp, claims.nbf, claims.iat, claims.present, now);
      r != VerifyReason::kOk) {
    return r;
  }
  if (std::find(policy_.issuers.begin(), policy_.issuers.end(), claims.iss) ==
      policy_.issuers.end()) {
    return VerifyReason::kWrongIssuer;
  }
  if (!policy_.audiences.empty()) {
    bool matched = false;
    for (int i = 0; i < claims.aud_count && !matched; ++i) {
      matched = std::find(policy_.audiences.begin(), policy_.audiences.end(), claims.aud[i]) !=
                policy_.audiences.end();
    }
    if (!matched) {
      return VerifyReason::kWrongAudience;
    }
  }
  return VerifyReason::kOk;
}

VerifyReason Verifier::ParseHeader(std::string_view header_b64, VerifyScratch& scratch,
                                   JoseHeader* header) const {
  VerifyScratch::HeaderMemo& memo = scratch.memo_;
  if (memo.segment_len == header_b64.size() &&
      std::memcmp(memo.segment, header_b64.data(), header_b64.size()) == 0) {
    *header = memo.header;
    return VerifyReason::kOk;
  }
  size_t header_len = 0;
  if (!Base64UrlDecode(header_b64, scratch.header_.get(), scratch.capacity_, &header_len)) {
    return VerifyReason::kBadBase64;
  }
  if (VerifyReason r = ParseJoseHeader(scratch.parser_, scratch.header_.get(), header_len, header);
      r != VerifyReason::kOk) {
    return r;
  }
  // Remember it, with kid and typ copied out of the parser's buffer (which the claims reuse).
  if (header_b64.size() <= sizeof(memo.segment) && header->kid.size() <= sizeof(memo.kid) &&
      header->typ.size() <= sizeof(memo.typ)) {
    std::memcpy(memo.segment, header_b64.data(), header_b64.size());
    std::memcpy(memo.kid, header->kid.data(), header->kid.size());
    std::memcpy(memo.typ, header->typ.data(), header->typ.size());
    memo.header = *header;
    memo.header.kid = std::string_view(memo.kid, header->kid.size());
    memo.header.typ = std::string_view(memo.typ, header->typ.size());
    memo.segment_len = header_b64.size();
  } else {
    memo.segment_len = 0;
  }
  return VerifyReason::kOk;
}

VerifyReason Verifier::Verify(std::string_view token, int64_t now, VerifyScratch& scratch,
                              VerifiedToken* out) const {
  if (token.size() > policy_.max_token_size || token.size() > scratch.capacity_) {
    return VerifyReason::kTooLarge;
  }
  const VerifyReason r = VerifyFast(token, now, scratch, out);
  // The fast path splits at the dots and lets the strict decoders reject stray characters, so
  // a token that is not three clean segments may fail later with another reason. Reclassify
  // failures (the cold path) so that shape faults are always reported as such.
  if (r != VerifyReason::kOk) {
    CompactParts parts;
    if (SplitCompact(token, &parts) != VerifyReason::kOk) {
      return VerifyReason::kMalformed;
    }
  }
  return r;
}

VerifyReason Verifier::VerifyFast(std::string_view token, int64_t now, VerifyScratch& scratch,
                                  VerifiedToken* out) const {
  const char* begin = token.data();
  const char* dot1 = static_cast<const char*>(std::memchr(begin, '.', token.size()));
  if (dot1 == nullptr) {
    return VerifyReason::kMalformed;
  }
  const char* dot2 = static_cast<const char*>(
      std::memchr(dot1 + 1, '.', static_cast<size_t>(begin + token.size() - dot1 - 1)));
  if (dot2 == nullptr) {
    return VerifyReason::kMalformed;
  }
  const std::string_view header_b64(begin, static_cast<size_t>(dot1 - begin));
  const std::string_view payload_b64(dot1 + 1, static_cast<size_t>(dot2 - dot1 - 1));
  const std::string_view signature_b64(dot2 + 1,
                                       static_cast<size_t>(begin + token.size() - dot2 - 1));
  const std::string_view signing_input(begin, static_cast<size_t>(dot2 - begin));
  if (header_b64.empty() || payload_b64.empty() || signature_b64.empty()) {
    return VerifyReason::kMalformed;
  }

  // Header: algorithm and key selection.
  JoseHeader header;
  if (VerifyReason r = ParseHeader(header_b64, scratch, &header); r != VerifyReason::kOk) {
    return r;
  }
  if (policy_.access_token_profile) {
    if (!header.has_typ || !(absl::EqualsIgnoreCase(ToAbsl(header.typ), "at+jwt") ||
                             absl::EqualsIgnoreCase(ToAbsl(header.typ), "application/at+jwt"))) {
      return VerifyReason::kWrongType;
    }
  }
  const Key* key = header.has_kid ? keys_->Find(header.kid) : keys_->FindOnly(header.alg);
  if (key == nullptr) {
    return VerifyReason::kUnknownKid;
  }
  // RFC 8725 §3.1: the key decides the algorithm; the header only has to agree with it.
  if (key->alg() != header.alg) {
    return VerifyReason::kAlgMismatch;
  }

  // Signature, before any claim is read.
  size_t sig_len = 0;
  if (!Base64UrlDecode(signature_b64, scratch.signature_, sizeof(scratch.signature_), &sig_len)) {
    // A signature segment too long for any key is as bad as one that is not base64url.
    return Base64UrlDecodedSize(signature_b64.size()).value_or(0) > kMaxSignatureSize
               ? VerifyReason::kBadSignature
               : VerifyReason::kBadBase64;
  }
  if (sig_len != key->SignatureSize() ||
      !key->Verify(signing_input, scratch.signature_, sig_len)) {
    return VerifyReason::kBadSignature;
  }

  // Claims.
  size_t payload_len = 0;
  if (!Base64UrlDecode(payload_b64, scratch.payload_.get(), scratch.capacity_, &payload_len)) {
    return VerifyReason::kBadBase64;
  }
  Claims& claims = scratch.claims_;
  if (VerifyReason r = ParseClaims(scratch.parser_, scratch.payload_.get(), payload_len, &claims);
      r != VerifyReason::kOk) {
    return r;
  }
  if (VerifyReason r = CheckClaims(claims, now); r != VerifyReason::kOk) {
    return r;
  }
  out->iss = claims.iss;
  out->sub = claims.sub;
  out->client_id = claims.client_id;
  out->scope = claims.scope;
  out->jti = claims.jti;
  out->kid = key->kid();
  out->exp = claims.exp;
  out->nbf = claims.nbf;
  out->iat = claims.iat;
  out->present = claims.present;
  out->from_cache = false;
  out->claims_json =
      std::string_view(reinterpret_cast<const char*>(scratch.payload_.get()), payload_len);
  return VerifyReason::kOk;
}

VerifyReason Verifier::Verify(std::string_view token, int64_t now, VerifyScratch& scratch,
                              VerifiedTokenCache& cache, VerifiedToken* out) const {
  if (token.size() > policy_.max_token_size) {
    return VerifyReason::kTooLarge;
  }
  const uint64_t hash = VerifiedTokenCache::Hash(token);
  if (cache.Lookup(token, hash, out)) {
    const VerifyReason r = CheckTimes(out->exp, out->nbf, out->iat, out->present, now);
    if (r == VerifyReason::kExpired) {
      cache.Erase(token, hash);
    }
    return r;
  }
  const VerifyReason r = Verify(token, now, scratch, out);
  if (r == VerifyReason::kOk) {
    cache.Insert(token, hash, *out);
  }
  return r;
}

}  // namespace ringward::token
