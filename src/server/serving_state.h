// server/serving_state.h: ServingState, everything a shard needs to answer requests that can
// change at runtime (keys, verifier policy, TLS certificate, limits, timeouts), frozen into one
// immutable value.
//
// The control thread builds a ServingState from a Config at start-up and on every SIGHUP, off
// the shards, and publishes it through a concurrent::VersionedSnapshot. Each shard notices the
// new version at the top of a loop turn and switches over between two requests; connections
// stay open (TLS sessions keep the context they were made with). A failed rebuild publishes
// nothing, so a broken keys file or certificate never takes a running server down.
//
// Thread-safe once built (immutable). Owns its Verifier, key set, TLS context reference and
// config copy; its destructor may run on any thread.
#ifndef RINGWARD_SERVER_SERVING_STATE_H_
#define RINGWARD_SERVER_SERVING_STATE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ringward/config/config.h"
#include "ringward/net/http/request_parser.h"
#include "ringward/net/tls/tls_context.h"
#include "ringward/token/key.h"
#include "ringward/token/verifier.h"

namespace ringward::server {

// ClaimHeader is one configured claim -> response header mapping.
struct ClaimHeader {
  std::string claim;             // claim name in the token's payload, e.g. "tenant"
  std::string name_colon_space;  // "X-Tenant: ", ready to append
};

struct ServingState {
  config::Config config;
  std::shared_ptr<const token::KeySet> keys;
  std::unique_ptr<const token::Verifier> verifier;
  // The public JWKS (private members and symmetric keys left out), for /.well-known/jwks.json.
  std::string jwks_json;
  // Null when no TLS listener is configured.
  std::shared_ptr<const tls::TlsContext> tls;
  std::vector<ClaimHeader> claim_headers;
  http::Limits limits;
  // A number that differs between any two states built by one process, for logs.
  uint64_t generation = 0;
};

// BuildServingState loads the keys, builds the verifier and (when |need_tls|) the TLS context
// from |config|. |ticket_keys| is shared by every generation so TLS sessions resume across a
// reload. Errors name the file or setting at fault.
// |issuance_jwks| is the issuance service's published JWKS (next, active and retired keys;
// "" when issuance is off): its keys join those of [tokens] keys, for verifying and in the
// public JWKS.
absl::StatusOr<std::shared_ptr<const ServingState>> BuildServingState(
    const config::Config& config, bool need_tls, std::shared_ptr<tls::TicketKeys> ticket_keys,
    uint64_t generation, std::string_view issuance_jwks = {});

// PolicyFromConfig is the verifier policy that |tokens| describes.
token::VerifyPolicy PolicyFromConfig(const config::TokensConfig& tokens);
// PolicyFor is PolicyFromConfig plus, with [issuance] enabled, its issuer and audiences.
token::VerifyPolicy PolicyFor(const config::Config& config);

}  // namespace ringward::server

#endif  // RINGWARD_SERVER_SERVING_STATE_H_
