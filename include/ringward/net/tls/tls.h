// ringward/net/tls/tls.h: the whole TLS layer in one include, for the server and tests.
//
// TLS for ringward's io_uring server runs over memory: the ring moves ciphertext, and BoringSSL
// objects never touch a socket. The pieces:
//  - TicketKeys (ticket_keys.h): session ticket keys shared by every shard, rotated by their owner;
//  - TlsContext (tls_context.h): certificate, key and protocol policy; thread-safe, shared;
//  - TlsSession (tls_session.h): one connection's TLS state and ciphertext buffers; thread-bound;
//  - WriteSelfSignedCertificate (self_signed.h): a development certificate for `serve --dev`.
// Each header states its own thread-safety and ownership.
#ifndef RINGWARD_NET_TLS_TLS_H_
#define RINGWARD_NET_TLS_TLS_H_

#include "ringward/net/tls/self_signed.h"
#include "ringward/net/tls/ticket_keys.h"
#include "ringward/net/tls/tls_context.h"
#include "ringward/net/tls/tls_session.h"

#endif  // RINGWARD_NET_TLS_TLS_H_
