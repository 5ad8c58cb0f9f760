#include "issuance/discovery.h"

#include <array>
#include <initializer_list>
#include <string_view>

#include "ringward/base/json.h"

namespace ringward::issuance {
namespace {

constexpr std::array<std::string_view, 3> kAuthMethods = {
    "client_secret_basic", "client_secret_post", "private_key_jwt"};
// What VerifyClientAssertion accepts: the asymmetric algorithms of the token core.
constexpr std::array<std::string_view, 4> kAssertionAlgs = {"EdDSA", "ES256", "RS256", "PS256"};
// The claims ringward's access tokens carry (RFC 9068 §2.2).
constexpr std::array<std::string_view, 9> kClaims = {
    "iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "auth_time"};

void Member(std::string* out, std::string_view name) {
  out->push_back(out->empty() ? '{' : ',');
  json::AppendJsonString(out, name);
  out->push_back(':');
}

template <typename Strings>
void Array(std::string* out, const Strings& values) {
  out->push_back('[');
  bool first = true;
  for (const auto& v : values) {
    if (!first) {
      out->push_back(',');
    }
    json::AppendJsonString(out, v);
    first = false;
  }
  out->push_back(']');
}

void StringMember(std::string* out, std::string_view name, std::string_view value) {
  Member(out, name);
  json::AppendJsonString(out, value);
}

template <typename Strings>
void ArrayMember(std::string* out, std::string_view name, const Strings& values) {
  Member(out, name);
  Array(out, values);
}

std::string Url(const DiscoveryInfo& info, std::string_view path) {
  std::string url = info.base_url;
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  url.append(path);
  return url;
}

// Common writes the RFC 8414 members into |out| (which holds "" on entry, without the closing
// brace).
void Common(std::string* out, const DiscoveryInfo& info) {
  StringMember(out, "issuer", info.issuer);
  StringMember(out, "token_endpoint", Url(info, kTokenPath));
  StringMember(out, "jwks_uri", Url(info, kJwksPath));
  StringMember(out, "revocation_endpoint", Url(info, kRevocationPath));
  StringMember(out, "introspection_endpoint", Url(info, kIntrospectionPath));
  ArrayMember(out, "grant_types_supported", info.grant_types);
  // RFC 8414 §2 makes this member REQUIRED; with no authorization endpoint there is no
  // response_type to offer.
  ArrayMember(out, "response_types_supported", std::initializer_list<std::string_view>{});
  ArrayMember(out, "token_endpoint_auth_methods_supported", kAuthMethods);
  ArrayMember(out, "token_endpoint_auth_signing_alg_values_supported", kAssertionAlgs);
  ArrayMember(out, "revocation_endpoint_auth_methods_supported", kAuthMethods);
  ArrayMember(out, "revocation_endpoint_auth_signing_alg_values_supported", kAssertionAlgs);
  ArrayMember(out, "introspection_endpoint_auth_methods_supported", kAuthMethods);
  ArrayMember(out, "introspection_endpoint_auth_signing_alg_values_supported", kAssertionAlgs);
  if (!info.scopes.empty()) {
    ArrayMember(out, "scopes_supported", info.scopes);
  }
}

}  // namespace

std::string AuthorizationServerMetadata(const DiscoveryInfo& info) {
  std::string out;
  out.reserve(1024);
  Common(&out, info);
  out.push_back('}');
  return out;
}

std::string OpenIdConfiguration(const DiscoveryInfo& info) {
  std::string out;
  out.reserve(1280);
  Common(&out, info);
  ArrayMember(&out, "id_token_signing_alg_values_supported",
              std::initializer_list<std::string_view>{info.signing_alg});
  ArrayMember(&out, "subject_types_supported", std::initializer_list<std::string_view>{"public"});
  ArrayMember(&out, "claims_supported", kClaims);
  out.push_back('}');
  return out;
}

}  // namespace ringward::issuance
