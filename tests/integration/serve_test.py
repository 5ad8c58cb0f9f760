#!/usr/bin/python3
"""`ringward serve` as its clients meet it: curl, requests and openssl over TLS, the endpoints,
the verify answers (headers, exact WWW-Authenticate), bulk verification, metrics, and a token
trying to inject a header."""
import json
import os
import re
import socket
import subprocess
import sys
import unittest

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ringward_cli as rw  # noqa: E402
import ringward_server as rs  # noqa: E402


class ServeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = rs.RingwardServer(claim_headers={"tenant": "X-Tenant"}).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        log = cls.server.log_text()
        cls.server.close()
        assert code == 0, f"exit code {code}\n{log}"

    def setUp(self):
        self.s = self.server

    def get(self, path, token=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.get(self.s.https_url(path), headers=headers, verify=self.s.cert,
                            timeout=5, **kwargs)

    # -- GET /v1/verify over TLS ---------------------------------------------------------------
    def test_curl_with_a_valid_token_gets_200_and_identity_headers(self):
        token = self.s.mint({"sub": "alice", "client_id": "web", "scope": "read write"})
        proc = subprocess.run(["curl", "-sS", "-i", "--cacert", self.s.cert, "-H",
                               f"Authorization: Bearer {token}", self.s.https_url("/v1/verify")],
                              capture_output=True, timeout=10)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        out = proc.stdout.decode()
        self.assertRegex(out, r"^HTTP/1\.1 200 OK\r\n")
        self.assertIn("\r\nX-Auth-Subject: alice\r\n", out)
        self.assertIn("\r\nX-Auth-Client: web\r\n", out)
        self.assertIn("\r\nX-Auth-Scope: read write\r\n", out)

    def test_requests_valid_invalid_and_missing(self):
        token = self.s.mint({"sub": "bob", "tenant": "acme"})
        for _ in range(2):  # a full verification, then a verified-cache hit
            r = self.get("/v1/verify", token)
            self.assertEqual(r.status_code, 200)
            self.assertEqual(r.headers["X-Auth-Subject"], "bob")
            self.assertEqual(r.headers["X-Tenant"], "acme")
            self.assertEqual(r.content, b"")
        tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        for bad in (tampered, "not-a-jwt", self.s.mint(ttl=1, claims={"exp": 1000})):
            r = self.get("/v1/verify", bad)
            self.assertEqual(r.status_code, 401, bad)
            self.assertEqual(r.headers["WWW-Authenticate"], 'Bearer error="invalid_token"')
            self.assertNotIn("X-Auth-Subject", r.headers)
            self.assertEqual(r.content, b"")
        r = self.get("/v1/verify")
        self.assertEqual(r.status_code, 401)
        self.assertEqual(r.headers["WWW-Authenticate"], 'Bearer realm="ringward"')
        r = self.get("/v1/verify", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        self.assertEqual(r.headers["WWW-Authenticate"], 'Bearer realm="ringward"')

    def test_scheme_is_case_insensitive(self):
        token = self.s.mint()
        r = self.get("/v1/verify", headers={"Authorization": f"bEaReR {token}"})
        self.assertEqual(r.status_code, 200)

    def test_forward_auth_headers_are_ignored(self):
        token = self.s.mint({"sub": "carol"})
        headers = {"Authorization": f"Bearer {token}", "X-Original-URI": "/api/x?y=1",
                   "X-Original-Method": "POST", "X-Forwarded-For": "203.0.113.7",
                   "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example",
                   "X-Forwarded-Uri": "/api/x", "X-Forwarded-Method": "DELETE"}
        r = self.get("/v1/verify", headers=headers)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.headers["X-Auth-Subject"], "carol")
        # Envoy ext_authz: original method, original path appended to the prefix, no body.
        r = requests.post(self.s.https_url("/v1/verify/api/orders"), headers=headers,
                          verify=self.s.cert, timeout=5)
        self.assertEqual(r.status_code, 200)
        del headers["Authorization"]
        r = requests.post(self.s.https_url("/v1/verify/api/orders"), headers=headers,
                          verify=self.s.cert, timeout=5)
        self.assertEqual(r.status_code, 401)

    def test_head_works(self):
        token = self.s.mint({"sub": "dave"})
        r = requests.head(self.s.https_url("/v1/verify"), verify=self.s.cert, timeout=5,
                          headers={"Authorization": f"Bearer {token}"})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.headers["X-Auth-Subject"], "dave")
        # A body after a HEAD answer would be read as the start of the next response.
        with self.s.connect() as c:
            c.send(b"HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            status, headers, _ = c.read_response(head_only=True)
            self.assertEqual(status, 200)
            self.assertEqual(rs.header(headers, "Content-Length"), "3")
            status, _, body = c.read_response()
            self.assertEqual((status, body), (200, b"ok\n"))

    def test_tls_pipelining_then_connection_close(self):
        import ssl
        ctx = ssl.create_default_context(cafile=self.s.cert)
        token = self.s.mint({"sub": "frank"})
        with socket.create_connection(("127.0.0.1", self.s.https_port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n" +
                            f"GET /v1/verify HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}"
                            "\r\n\r\n".encode() +
                            b"GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" +
                            b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                data = b""
                while True:
                    chunk = tls.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", data)
        self.assertEqual(statuses, [b"200", b"200", b"404"])  # nothing after Connection: close
        self.assertIn(b"X-Auth-Subject: frank\r\n", data)
        self.assertIn(b"Connection: close\r\n", data)

    # -- header injection ----------------------------------------------------------------------
    def test_a_subject_with_crlf_never_becomes_a_header(self):
        evil = self.s.mint({"sub": "alice\r\nX-Evil: 1", "tenant": "t\r\nX-Evil: 2"})
        for _ in range(2):
            status, headers, _ = self.s.raw_request(
                f"GET /v1/verify HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {evil}\r\n\r\n"
                .encode())
            self.assertEqual(status, 401)
            self.assertIsNone(rs.header(headers, "X-Evil"))
            self.assertIsNone(rs.header(headers, "X-Auth-Subject"))
        # A safe subject with an unsafe extra claim: 200, the claim header left out.
        token = self.s.mint({"sub": "erin", "tenant": "t\nX-Evil: 3"})
        r = self.get("/v1/verify", token)
        self.assertEqual(r.status_code, 200)
        self.assertNotIn("X-Evil", r.headers)
        self.assertNotIn("X-Tenant", r.headers)
        self.assertIn("ringward_verify_total{reason=\"unsafe_claim\"}", self.s.metrics())
        self.assertGreaterEqual(
            rs.metric_value(self.s.metrics(), 'ringward_verify_total{reason="unsafe_claim"}'), 2)

    # -- TLS versions --------------------------------------------------------------------------
    def s_client(self, *args):
        return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.s.https_port}",
                               "-CAfile", self.s.cert, "-verify_return_error", *args],
                              input="", capture_output=True, text=True, timeout=15)

    def test_tls_1_2_and_1_3_accepted_1_1_refused(self):
        for flag, version in (("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")):
            proc = self.s_client(flag)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
            self.assertRegex(proc.stdout, rf"New, {re.escape(version)}, Cipher is")
            self.assertIn("Verify return code: 0 (ok)", proc.stdout)
        before = rs.metric_value(self.s.metrics(), "ringward_tls_handshake_failures_total") or 0
        # SECLEVEL=0 lets this client offer TLS 1.1 at all, so a refusal is the server's.
        proc = self.s_client("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        self.assertNotEqual(proc.returncode, 0)
        self.assertRegex(proc.stdout + proc.stderr, r"(?i)protocol version|alert")
        after = rs.metric_value(self.s.metrics(), "ringward_tls_handshake_failures_total")
        self.assertEqual(after, before + 1)

    # -- other endpoints -----------------------------------------------------------------------
    def test_jwks_health_ready(self):
        r = self.get("/.well-known/jwks.json")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.headers["Cache-Control"], "public, max-age=300")
        keys = r.json()["keys"]
        self.assertEqual([k["kid"] for k in keys], ["key-1"])
        self.assertNotIn("d", keys[0])
        r = self.get("/healthz")
        self.assertEqual((r.status_code, r.text), (200, "ok\n"))
        r = self.get("/readyz")
        self.assertEqual(r.status_code, 200)

    def test_unknown_route_404_and_wrong_method_405(self):
        self.assertEqual(self.get("/nope").status_code, 404)
        self.assertEqual(self.get("/v1/verify/").status_code, 401)  # forward-auth prefix
        r = requests.delete(self.s.https_url("/healthz"), verify=self.s.cert, timeout=5)
        self.assertEqual(r.status_code, 405)
        self.assertEqual(r.headers["Allow"], "GET, HEAD")
        r = requests.put(self.s.https_url("/v1/verify"), verify=self.s.cert, timeout=5)
        self.assertEqual(r.status_code, 405)
        self.assertEqual(r.headers["Allow"], "GET, HEAD, POST")

    # -- POST /v1/verify -----------------------------------------------------------------------
    def test_bulk_text(self):
        a = self.s.mint({"sub": "alice"})
        b = self.s.mint({"sub": "bob"})
        body = f"{a}\nnope\n{b}\r\n{a}\n"
        r = requests.post(self.s.https_url("/v1/verify"), data=body, verify=self.s.cert,
                          headers={"Content-Type": "text/plain"}, timeout=5)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.text, "ok alice\ninvalid\nok bob\nok alice\n")

    def test_bulk_json(self):
        a = self.s.mint({"sub": "alice", "client_id": "web", "scope": "read"})
        r = requests.post(self.s.https_url("/v1/verify"), json={"tokens": [a, "x.y.z"]},
                          verify=self.s.cert, timeout=5)
        self.assertEqual(r.status_code, 200)
        results = r.json()["results"]
        self.assertEqual(len(results), 2)
        self.assertEqual(results[0]["valid"], True)
        self.assertEqual((results[0]["sub"], results[0]["client_id"], results[0]["scope"]),
                         ("alice", "web", "read"))
        self.assertIsInstance(results[0]["exp"], int)
        self.assertEqual(results[1], {"valid": False})

    def test_large_responses_over_tls(self):
        # Bigger than the TLS send queue and the pooled output blocks: sent in several pieces.
        r = requests.post(self.s.https_url("/v1/verify"), data="x\n" * 100,
                          verify=self.s.cert, timeout=10)
        self.assertEqual(r.text, "invalid\n" * 100)
        with requests.Session() as session:
            for _ in range(3):
                r = session.get(self.s.https_url("/metrics"), verify=self.s.cert, timeout=10)
                self.assertEqual(r.status_code, 200)
                self.assertTrue(r.text.endswith("ringward_ready 1\n"))
        import ssl
        ctx = ssl.create_default_context(cafile=self.s.cert)
        count = 3000
        with socket.create_connection(("127.0.0.1", self.s.https_port), timeout=20) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"".join(b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: t\r\n\r\n"
                                     for _ in range(count)) +
                            b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                data = bytearray()
                while True:
                    chunk = tls.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        self.assertEqual(data.count(b"HTTP/1.1 200 OK\r\n"), count + 1)
        self.assertTrue(data.endswith(b"ok\n"))

    def test_bulk_limits(self):
        tokens = ["x"] * 101  # bulk_max_tokens is 100 in this config
        r = requests.post(self.s.https_url("/v1/verify"), json={"tokens": tokens},
                          verify=self.s.cert, timeout=5)
        self.assertEqual(r.status_code, 413)
        self.assertIn("at most 100", r.text)
        r = requests.post(self.s.https_url("/v1/verify"), data="\n".join(tokens),
                          verify=self.s.cert, timeout=5)
        self.assertEqual(r.status_code, 413)
        r = requests.post(self.s.https_url("/v1/verify"), data=b"", verify=self.s.cert, timeout=5)
        self.assertEqual(r.status_code, 400)
        r = requests.post(self.s.https_url("/v1/verify"), data=b"{",
                          headers={"Content-Type": "application/json"}, verify=self.s.cert,
                          timeout=5)
        self.assertEqual(r.status_code, 400)

    # -- metrics -------------------------------------------------------------------------------
    def test_metrics_series(self):
        token = self.s.mint()
        self.get("/v1/verify", token)
        self.get("/v1/verify", token)
        self.get("/v1/verify")
        self.s.raw_request(b"GET /x HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n")
        text = self.s.metrics()
        for series in [
            'ringward_http_requests_total{route="verify",status="200"}',
            'ringward_http_requests_total{route="verify",status="401"}',
            'ringward_http_requests_total{route="invalid",status="400"}',
            'ringward_http_parse_errors_total{reason="duplicate_host"}',
            'ringward_verify_total{reason="ok"}',
            'ringward_verify_total{reason="missing_token"}',
            'ringward_verify_total{shard="0",reason="bad_signature"}',
            'ringward_verify_total{shard="1",reason="expired"}',
            "ringward_verify_cache_hits_total",
            "ringward_verify_cache_misses_total",
            'ringward_verify_cache_hits_total{shard="1"}',
            "ringward_tls_handshakes_total",
            'ringward_open_connections{shard="0"}',
            "ringward_open_connections",
            "ringward_shards",
            "ringward_ready",
        ]:
            self.assertIsNotNone(rs.metric_value(text, series), series)
        self.assertGreaterEqual(rs.metric_value(text, "ringward_verify_cache_hits_total"), 1)
        self.assertGreaterEqual(rs.metric_value(text, "ringward_tls_handshakes_total"), 3)
        self.assertGreaterEqual(rs.metric_value(text, "ringward_open_connections"), 1)
        self.assertEqual(rs.metric_value(text, "ringward_shards"), 2)
        self.assertEqual(rs.metric_value(text, "ringward_ready"), 1)
        per_shard = [rs.metric_value(text, f'ringward_verify_total{{shard="{i}",reason="ok"}}')
                     for i in range(2)]
        self.assertEqual(sum(per_shard), rs.metric_value(text, 'ringward_verify_total{reason="ok"}'))
        self.assertIn("# TYPE ringward_http_requests_total counter", text)

    def test_logs_are_one_line_with_priority_and_never_a_token(self):
        token = self.s.mint()
        self.get("/v1/verify", token)
        for line in self.s.log_text().splitlines():
            self.assertRegex(line, r"^<[0-7]>ringward: ")
            self.assertNotIn(token.split(".")[0], line)


if __name__ == "__main__":
    rw.main(globals())
