#!/usr/bin/python3
"""TLS sessions as clients meet them: resumption with session tickets on every shard, and the
protocol versions and ALPN a client may use."""
import os
import socket
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ringward_server as rs  # noqa: E402


class ServeTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = rs.RingwardServer(shards=2).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        log = cls.server.log_text()
        cls.server.close()
        assert code == 0, f"exit code {code}\n{log}"

    def context(self, version):
        ctx = ssl.create_default_context(cafile=self.server.cert)
        ctx.minimum_version = version
        ctx.maximum_version = version
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def request(self, ctx, session=None):
        """One HTTPS request on a fresh connection; returns (session, reused, alpn, status)."""
        with socket.create_connection(("127.0.0.1", self.server.https_port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
                tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                            b"Connection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = tls.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                # TLS 1.3 tickets arrive with the server's first application data, so the
                # session is read only after the response.
                return tls.session, tls.session_reused, tls.selected_alpn_protocol(), data

    def test_sessions_resume_across_shards(self):
        # Connections spread over both shards (SO_REUSEPORT), and every one resumes the first
        # session: the ticket keys are shared by all shards.
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            with self.subTest(version=version.name):
                ctx = self.context(version)
                session, reused, alpn, data = self.request(ctx)
                self.assertFalse(reused)
                self.assertEqual(alpn, "http/1.1")
                self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:40])
                resumed = 0
                for _ in range(12):
                    _, reused, _, data = self.request(ctx, session)
                    self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:40])
                    resumed += reused
                self.assertEqual(resumed, 12)
        text = self.server.metrics()
        self.assertGreaterEqual(rs.metric_value(text, "ringward_tls_handshakes_total"), 26)
        self.assertGreaterEqual(rs.metric_value(text, "ringward_tls_handshakes_resumed_total"), 24)

    def test_openssl_reports_reuse(self):
        sess = os.path.join(self.server.dir, "session.pem")
        base = ["openssl", "s_client", "-connect", f"127.0.0.1:{self.server.https_port}",
                "-servername", "localhost", "-CAfile", self.server.cert, "-tls1_2", "-ign_eof"]
        request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        first = subprocess.run(base + ["-sess_out", sess], input=request, capture_output=True,
                               timeout=20)
        self.assertIn(b"New, TLSv1.2", first.stdout)
        second = subprocess.run(base + ["-sess_in", sess], input=request, capture_output=True,
                                timeout=20)
        self.assertIn(b"Reused, TLSv1.2", second.stdout)
        self.assertIn(b"HTTP/1.1 200", second.stdout)


if __name__ == "__main__":
    import ringward_cli as rw
    rw.main(globals())
