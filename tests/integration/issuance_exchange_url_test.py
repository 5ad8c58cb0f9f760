#!/usr/bin/python3
"""Token exchange (RFC 8693) with a trusted issuer whose JWKS is at a URL: ringward fetches it
over HTTPS from an identity provider (Python's http.server with TLS on 127.0.0.1, its
certificate made with the openssl CLI) at start, verified against the issuer's ca_file; an
id_token signed by PyJWT with the provider's key is exchanged; when the provider rotates, a
token with the new kid makes ringward refetch at once, but never sooner than
jwks_min_refresh_s after the last fetch (the negative cache); an issuer whose ca_file does not
match the provider's certificate never gets keys (invalid_grant) and its failed fetches are
counted in ringward_trusted_jwks_fetches_total{result="error"}.

Everything stays on 127.0.0.1 and every wait is bounded."""
import http.server
import json
import os
import re
import ssl
import sys
import tempfile
import threading
import time
import unittest

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import issuance_test as it  # noqa: E402
import ringward_cli as rw  # noqa: E402
import ringward_server as rs  # noqa: E402

IDP = "https://idp.example"
BAD = "https://wrong-ca.example"
AUDIENCE = "ringward"
JWKS_PATH = "/.well-known/jwks.json"
BAD_PATH = "/wrong-ca/.well-known/jwks.json"
# The negative cache of the test's issuers, in seconds: short, so that the test is quick, and
# long enough that "right after a fetch" is well inside it on a loaded machine.
MIN_REFRESH = 3


class FakeIdp:
    """An identity provider's JWKS endpoint over HTTPS. serve() sets the keys it publishes;
    requests is every GET it answered, as (monotonic time, path, Host header)."""

    def __init__(self, directory):
        os.makedirs(directory, exist_ok=True)
        # P-256, subjectAltName DNS:localhost and IP:127.0.0.1, by the openssl CLI.
        self.cert, key = rs.make_certificate(directory)
        self.keys = {}
        self.jwks = {"keys": []}
        self.requests = []
        self.lock = threading.Lock()
        idp = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with idp.lock:
                    idp.requests.append((time.monotonic(), self.path, self.headers.get("Host")))
                    body = json.dumps(idp.jwks).encode()
                if not self.path.endswith(JWKS_PATH):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/jwk-set+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        # The handshake runs in accept(): one that fails (the wrong-CA issuer) is dropped there.
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path=JWKS_PATH):
        return f"https://127.0.0.1:{self.port}{path}"

    def key(self, kid):
        if kid not in self.keys:
            self.keys[kid] = Ed25519PrivateKey.generate()
        return self.keys[kid]

    def serve(self, kids):
        with self.lock:
            self.jwks = {"keys": [it.ed25519_jwk(self.key(kid), kid) for kid in kids]}

    def fetches(self, path=JWKS_PATH):
        with self.lock:
            return [r for r in self.requests if r[1] == path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class TokenExchangeWithJwksUrlTest(unittest.TestCase, it.OAuthAssertions):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.idp = FakeIdp(os.path.join(cls.tmp.name, "idp"))
        cls.idp.serve(["idp-1"])

        def trusted_issuers(server):
            common = {"audiences": [AUDIENCE], "scopes": ["read"], "jwks_refresh_s": 3600,
                      "jwks_min_refresh_s": MIN_REFRESH}
            server.trusted_issuer_options = [
                dict(common, issuer=IDP, jwks_url=cls.idp.url(), ca_file=cls.idp.cert),
                # ringward's own certificate: the provider's does not chain to it.
                dict(common, issuer=BAD, jwks_url=cls.idp.url(BAD_PATH), ca_file=server.cert),
            ]

        cls.server = it.start_issuance_server(issuance=dict(it.FAST_ARGON2),
                                              before_start=trusted_issuers)
        cls.c = it.IssuanceClient(cls.server)
        cls.client = cls.c.create_client(grant_types=(it.TOKEN_EXCHANGE,), scope="read")

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        log = cls.server.log_text()
        cls.server.close()
        cls.idp.close()
        cls.tmp.cleanup()
        assert code == 0, f"exit code {code}\n{log}"

    # -- helpers -------------------------------------------------------------------------------
    def id_token(self, kid, iss=IDP, sub="248289761001"):
        now = int(time.time())
        return jwt.encode({"iss": iss, "sub": sub, "aud": AUDIENCE, "iat": now,
                              "exp": now + 300}, self.idp.key(kid), algorithm="EdDSA",
                      headers={"kid": kid})

    def exchange(self, subject_token):
        return self.c.token({"grant_type": it.TOKEN_EXCHANGE, "subject_token": subject_token,
                             "subject_token_type": it.ID_TOKEN_TYPE}, auth=self.client)

    def fetch_count(self, issuer, result):
        text = self.c.admin("GET", "/metrics", expect=200).text
        m = re.search(r'^ringward_trusted_jwks_fetches_total\{issuer="' + re.escape(issuer) +
                      r'",result="' + result + r'"\} (\d+)$', text, re.M)
        self.assertIsNotNone(m, f"no fetch counter for {issuer} {result}:\n{text}")
        return int(m.group(1))

    def wait_fetch_count(self, issuer, result, at_least, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.fetch_count(issuer, result) >= at_least:
                return
            time.sleep(0.05)
        self.fail(f"{issuer}: fewer than {at_least} {result} fetches:\n{self.server.log_text()}")

    def wait_out_negative_cache(self):
        """Sleeps until the last fetch of the provider's JWKS is MIN_REFRESH s old (and a bit)."""
        last = self.idp.fetches()[-1][0]
        time.sleep(max(0.0, last + MIN_REFRESH + 0.3 - time.monotonic()))

    def assert_exchanged(self, subject_token, sub="248289761001"):
        body = self.assert_tokens(self.exchange(subject_token))
        self.assertEqual(body["issued_token_type"], it.ACCESS_TOKEN_TYPE)
        claims = self.c.discovery_verify(body["access_token"])
        self.assertEqual(claims["sub"], f"{IDP}|{sub}")

    def assert_refused(self, subject_token):
        self.assert_oauth_error(self.exchange(subject_token), 400, "invalid_grant")

    # -- tests (in name order: they share the provider and its rotations) ----------------------
    def test_1_keys_are_fetched_at_start(self):
        self.wait_fetch_count(IDP, "ok", 1)
        fetches = self.idp.fetches()
        self.assertEqual(len(fetches), 1, fetches)
        self.assertEqual(fetches[0][2], f"127.0.0.1:{self.idp.port}")
        self.server.wait_log(r'event=trusted_jwks_fetch issuer="https://idp\.example" url="' +
                             re.escape(self.idp.url()) + r'" result=ok kids="idp-1"')
        self.assert_exchanged(self.id_token("idp-1"))
        self.assert_exchanged(self.id_token("idp-1", sub="other"), sub="other")
        self.assertEqual(len(self.idp.fetches()), 1)  # known kids fetch nothing
        self.assertEqual(self.fetch_count(IDP, "error"), 0)

    def test_2_a_rotated_key_is_fetched_on_its_unknown_kid(self):
        self.idp.serve(["idp-2"])  # the provider rotates: idp-1 is gone
        self.wait_out_negative_cache()
        ok_before = self.fetch_count(IDP, "ok")
        before = len(self.idp.fetches())
        self.assert_exchanged(self.id_token("idp-2"))
        fetched_at = self.idp.fetches()[-1][0]
        self.assertEqual(len(self.idp.fetches()), before + 1)
        self.assertEqual(self.fetch_count(IDP, "ok"), ok_before + 1)
        self.server.wait_log(r'event=trusted_jwks_fetch issuer="https://idp\.example" .*'
                             r'result=ok kids="idp-2"')

        # Right after a fetch, unknown kids fetch nothing (the negative cache): the old key is
        # no longer trusted, and a key the provider has just added is not seen yet.
        self.idp.serve(["idp-2", "idp-3"])
        self.assert_refused(self.id_token("idp-1"))
        self.assert_refused(self.id_token("idp-3"))
        self.assert_refused(self.id_token("made-up"))
        # (On a machine too slow to send three requests within the interval, a late one may
        # have fetched already; the counts are then not checked.)
        in_time = time.monotonic() - fetched_at < MIN_REFRESH - 0.5
        if in_time:
            self.assertEqual(len(self.idp.fetches()), before + 1)
        # Once the interval is over, idp-3 is fetched on its first use; idp-2 still works.
        self.wait_out_negative_cache()
        before = len(self.idp.fetches())
        self.assert_exchanged(self.id_token("idp-3"))
        self.assert_exchanged(self.id_token("idp-2"))
        if in_time:
            self.assertEqual(len(self.idp.fetches()), before + 1)

    def test_3_a_wrong_ca_file_leaves_the_issuer_without_keys(self):
        # The start-up fetch failed on the certificate, logged, and the server started anyway.
        self.wait_fetch_count(BAD, "error", 1)
        self.server.wait_log(r'event=trusted_jwks_fetch issuer="https://wrong-ca\.example" url="' +
                             re.escape(self.idp.url(BAD_PATH)) +
                             r'" result=error keys_kept=none error=".*certificate verification')
        self.assertEqual(self.fetch_count(BAD, "ok"), 0)
        # The provider was never asked: the handshake failed before any request.
        self.assertEqual(self.idp.fetches(BAD_PATH), [])
        # A failed fetch is retried jwks_min_refresh_s later (not jwks_refresh_s), and fails
        # again; a token the provider really signed (with a key it publishes) stays refused.
        self.wait_fetch_count(BAD, "error", 2, timeout=MIN_REFRESH * 3 + 10)
        self.idp.serve(["idp-3"])
        self.assert_refused(self.id_token("idp-3", iss=BAD))
        self.assert_refused(self.id_token("idp-3", iss=BAD, sub="other"))
        self.assertEqual(self.fetch_count(BAD, "ok"), 0)
        self.assertEqual(self.idp.fetches(BAD_PATH), [])
        # The other issuer is not disturbed.
        self.assert_exchanged(self.id_token("idp-3"))


if __name__ == "__main__":
    rw.main(globals())
