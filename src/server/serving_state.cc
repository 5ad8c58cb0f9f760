#include "server/serving_state.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/response.h"

namespace ringward::server {

token::VerifyPolicy PolicyFromConfig(const config::TokensConfig& tokens) {
  token::VerifyPolicy policy;
  policy.issuers = tokens.issuers;
  policy.audiences = tokens.audiences;
  policy.leeway_seconds = tokens.leeway_s;
  policy.access_token_profile = tokens.access_token_profile;
  policy.max_token_size = tokens.max_token_bytes;
  return policy;
}

token::VerifyPolicy PolicyFor(const config::Config& config) {
  token::VerifyPolicy policy = PolicyFromConfig(config.tokens);
  // A follower may start before its leader's keys have reached it.
  policy.allow_no_keys = !config.replication.leader.empty();
  if (!config.issuance.enabled) {
    return policy;
  }
  // The tokens ringward issues itself verify here too: its issuer, and (when audiences are
  // checked at all) its default audiences.
  auto add = [](std::vector<std::string>* list, const std::string& value) {
    if (!value.empty() && std::find(list->begin(), list->end(), value) == list->end()) {
      list->push_back(value);
    }
  };
  add(&policy.issuers, config.issuance.issuer);
  if (!policy.audiences.empty()) {
    for (const std::string& aud : config.issuance.audiences) {
      add(&policy.audiences, aud);
    }
  }
  return policy;
}

absl::StatusOr<std::shared_ptr<const ServingState>> BuildServingState(
    const config::Config& config, bool need_tls, std::shared_ptr<tls::TicketKeys> ticket_keys,
    uint64_t generation, std::string_view issuance_jwks) {
  auto state = std::make_shared<ServingState>();
  state->config = config;
  state->generation = generation;

  // With [issuance] enabled, no [tokens] keys file means only the keys issuance makes.
  if (config.tokens.keys.empty() && !config.issuance.enabled) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.path.empty() ? "config" : config.path,
                     ": [tokens] keys is not set; point it at a JWKS file"));
  }
  absl::StatusOr<token::KeySet> keys = config.tokens.keys.empty()
                                           ? absl::StatusOr<token::KeySet>(token::KeySet())
                                           : token::KeySet::FromFile(config.tokens.keys);
  if (!keys.ok()) {
    return keys.status();
  }
  if (!issuance_jwks.empty()) {
    absl::StatusOr<token::KeySet> issued = token::KeySet::FromJwks(issuance_jwks);
    if (!issued.ok()) {
      return absl::InternalError(
          absl::StrCat("the issuance key set does not parse: ", issued.status().message()));
    }
    for (const std::unique_ptr<token::Key>& key : issued->keys()) {
      if (keys->Find(key->kid()) != nullptr) {
        continue;  // the same key in both: [tokens] keys wins
      }
      absl::StatusOr<std::unique_ptr<token::Key>> copy =
          token::Key::FromJwk(key->ToJwk(/*include_private=*/false));
      if (!copy.ok()) {
        return copy.status();
      }
      if (absl::Status s = keys->Add(*std::move(copy)); !s.ok()) {
        return s;
      }
    }
  }
  state->keys = std::make_shared<const token::KeySet>(*std::move(keys));
  absl::StatusOr<std::unique_ptr<token::Verifier>> verifier =
      token::Verifier::Create(state->keys, PolicyFor(config));
  if (!verifier.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.path.empty() ? "config" : config.path, ": [tokens]: ",
                     verifier.status().message()));
  }
  state->verifier = *std::move(verifier);
  state->jwks_json = state->keys->ToJwks(/*include_private=*/false);

  for (const auto& [claim, header] : config.tokens.claim_headers) {
    if (!IsHeaderName(header)) {
      return absl::InvalidArgumentError(
          absl::StrCat(config.path.empty() ? "config" : config.path,
                       ": [tokens] claim_headers: \"", header, "\" is not a valid header name"));
    }
    state->claim_headers.push_back(ClaimHeader{claim, absl::StrCat(header, ": ")});
  }

  state->limits.max_head_bytes = config.server.max_head_bytes;
  state->limits.max_body_bytes = config.server.max_body_bytes;

  if (need_tls) {
    tls::TlsContextOptions options;
    options.certificate_chain_path = config.tls.certificate;
    options.private_key_path = config.tls.private_key;
    options.ticket_keys = std::move(ticket_keys);
    absl::StatusOr<std::shared_ptr<const tls::TlsContext>> context =
        tls::TlsContext::Create(options);
    if (!context.ok()) {
      return context.status();
    }
    state->tls = *std::move(context);
  }
  return std::shared_ptr<const ServingState>(std::move(state));
}

}  // namespace ringward::server
