// issuance/discovery.h: authorization server metadata (RFC 8414) and the OpenID Connect
// Discovery document (OpenID Connect Discovery 1.0 §3), served at
// /.well-known/oauth-authorization-server and /.well-known/openid-configuration.
//
// Both describe exactly what ringward offers: a token endpoint, revocation (RFC 7009),
// introspection (RFC 7662) and the JWKS; there is no authorization endpoint (no browser flows),
// so response_types_supported is empty and authorization_endpoint is absent.
//
// Pure functions, thread-safe; the documents are built once per configuration and cached by the
// caller.
#ifndef RINGWARD_ISSUANCE_DISCOVERY_H_
#define RINGWARD_ISSUANCE_DISCOVERY_H_

#include <string>
#include <vector>

namespace ringward::issuance {

// Endpoint paths, relative to DiscoveryInfo::base_url.
inline constexpr char kTokenPath[] = "/oauth2/token";
inline constexpr char kRevocationPath[] = "/oauth2/revoke";
inline constexpr char kIntrospectionPath[] = "/oauth2/introspect";
inline constexpr char kJwksPath[] = "/.well-known/jwks.json";

struct DiscoveryInfo {
  std::string issuer;
  // Where the endpoints live, without a trailing slash, e.g. https://127.0.0.1:8443.
  std::string base_url;
  std::vector<std::string> grant_types;  // grant_types_supported
  std::vector<std::string> scopes;       // scopes_supported; omitted when empty
  std::string signing_alg = "EdDSA";     // the access-token signing algorithm
};

// AuthorizationServerMetadata returns the RFC 8414 §2 document: issuer, token_endpoint,
// jwks_uri, revocation_endpoint, introspection_endpoint, grant_types_supported,
// response_types_supported ([]), token_endpoint_auth_methods_supported, the signing algorithms
// accepted for private_key_jwt, the same methods for revocation and introspection, and
// scopes_supported when there are scopes.
std::string AuthorizationServerMetadata(const DiscoveryInfo& info);

// OpenIdConfiguration returns the same members plus id_token_signing_alg_values_supported
// ([signing_alg]), subject_types_supported (["public"]) and claims_supported.
std::string OpenIdConfiguration(const DiscoveryInfo& info);

}  // namespace ringward::issuance

#endif  // RINGWARD_ISSUANCE_DISCOVERY_H_
