// issuance/client_auth.h: client authentication at the token endpoint (RFC 6749 §2.3, RFC 7521
// and RFC 7523 §2.2/§3).
//
// Three methods, each bound to a client by its registered token_endpoint_auth_method:
// client_secret_basic (HTTP Basic), client_secret_post (client_id and client_secret in the
// body) and private_key_jwt (a JWT signed with one of the client's registered keys). A request
// that uses more than one is refused (RFC 6749 §2.3): otherwise a proxy and the server could
// each believe a different one.
//
// Status codes follow RFC 6749 §5.2: InvalidArgument for a malformed request (invalid_request)
// and Unauthenticated for credentials that are unusable or wrong (invalid_client).
//
// Pure functions, thread-safe; results own their strings.
#ifndef RINGWARD_ISSUANCE_CLIENT_AUTH_H_
#define RINGWARD_ISSUANCE_CLIENT_AUTH_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "issuance/form.h"
#include "issuance/records.h"

namespace ringward::issuance {

// kJwtBearerAssertionType is the client_assertion_type of private_key_jwt (RFC 7523 §2.2).
inline constexpr std::string_view kJwtBearerAssertionType =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
// kMaxAssertionLifetime bounds exp - now of a client assertion: a long-lived assertion is a
// bearer credential that replay protection would have to remember for as long.
inline constexpr int64_t kMaxAssertionLifetime = 3600;
// kMaxAssertionSize bounds a client assertion (a handful of claims and one signature).
inline constexpr size_t kMaxAssertionSize = 8192;

enum class ClientAuthMethod : uint8_t { kNone, kSecretBasic, kSecretPost, kPrivateKeyJwt };

// ClientAuthMethodName returns the RFC 7591 name ("none", "client_secret_basic",
// "client_secret_post", "private_key_jwt").
std::string_view ClientAuthMethodName(ClientAuthMethod method);

// PresentedClient is what the request claims: who the client is and the credential it shows.
struct PresentedClient {
  ClientAuthMethod method = ClientAuthMethod::kNone;
  std::string client_id;  // empty only with kNone when the request names no client at all
  std::string secret;     // kSecretBasic, kSecretPost
  std::string assertion;  // kPrivateKeyJwt
};

// ExtractClientAuth reads the credentials of one token request from the Authorization header
// value |authorization| (empty when absent) and the form body:
//  - "Basic ..." -> kSecretBasic; a form client_id, if any, must equal the Basic one;
//  - client_secret in the form (with client_id) -> kSecretPost;
//  - client_assertion_type (the jwt-bearer URN) with client_assertion -> kPrivateKeyJwt; the
//    client_id is the assertion's (unverified) sub when the form has none, and must equal it
//    when the form has one;
//  - only client_id -> kNone with client_id set; nothing at all -> kNone with no client_id.
// InvalidArgument for more than one method, client_id values that disagree, client_secret
// without client_id, or only one of client_assertion and client_assertion_type; Unauthenticated
// for an Authorization header that is not well-formed Basic, another assertion type, or an
// assertion that is not a JWT with a sub. Nothing is verified here: the caller looks the client
// up and then calls CheckClientSecret or VerifyClientAssertion.
absl::StatusOr<PresentedClient> ExtractClientAuth(std::string_view authorization,
                                                  const Form& form);

// CheckClientSecret reports whether |presented| authenticates |client|: the method used is the
// client's registered auth_method (client_secret_basic or client_secret_post), the client_ids
// agree, and SHA-256 of the secret equals client.secret_hash (compared in constant time).
bool CheckClientSecret(const Client& client, const PresentedClient& presented);

// AssertionInfo is what the caller needs to refuse a replayed assertion: remember |jti| for
// |client_id| until |exp| has passed.
struct AssertionInfo {
  std::string jti;
  int64_t exp = 0;
};

// VerifyClientAssertion checks a private_key_jwt assertion (RFC 7523 §3) for |client|, whose
// auth_method must be private_key_jwt: signed by a key of client.jwks (the key decides the
// algorithm; symmetric keys are refused), iss == sub == client_id, an aud value among
// |accepted_audiences| (the token endpoint URL, the issuer), exp present and not passed (with
// |leeway_s|) and at most kMaxAssertionLifetime ahead of |now|, nbf and iat (when present) not
// in the future, and a jti. InvalidArgument when |accepted_audiences| is empty or |leeway_s| is
// outside 0..3600; FailedPrecondition when the client's registered JWKS does not parse;
// Unauthenticated, naming the reason, for an assertion that fails any check.
absl::StatusOr<AssertionInfo> VerifyClientAssertion(const Client& client,
                                                    std::string_view assertion,
                                                    std::span<const std::string> accepted_audiences,
                                                    int64_t now, int64_t leeway_s);

}  // namespace ringward::issuance

#endif  // RINGWARD_ISSUANCE_CLIENT_AUTH_H_
