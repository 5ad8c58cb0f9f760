#!/usr/bin/python3
"""HTTP/1.1 framing of `ringward serve`, over raw sockets on the plain listener: pipelining,
ambiguous requests (answered once, then the connection is closed and nothing after them is
processed), limits, timeouts, Connection: close, 100-continue and the unix socket listener."""
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ringward_cli as rw  # noqa: E402
import ringward_server as rs  # noqa: E402

HEALTH = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"

# Ambiguous or malformed requests and the status each must get. Every one is followed on the
# same connection by a valid pipelined request that must NOT be answered.
AMBIGUOUS = [
    ("content_length_and_transfer_encoding",
     b"POST /v1/verify HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("duplicate_content_length",
     b"POST /v1/verify HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400),
    ("content_length_list",
     b"POST /v1/verify HTTP/1.1\r\nHost: t\r\nContent-Length: 1, 1\r\n\r\nx", 400),
    ("invalid_content_length",
     b"POST /v1/verify HTTP/1.1\r\nHost: t\r\nContent-Length: +1\r\n\r\nx", 400),
    ("obs_fold", b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n", 400),
    ("bare_cr", b"GET /healthz HTTP/1.1\r\nHost: t\rX-A: b\r\n\r\n", 400),
    ("bare_lf", b"GET /healthz HTTP/1.1\nHost: t\r\n\r\n", 400),
    ("whitespace_before_colon", b"GET /healthz HTTP/1.1\r\nHost : t\r\n\r\n", 400),
    ("invalid_method", b"G(T /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("invalid_version", b"GET /healthz HTTP/1.x\r\nHost: t\r\n\r\n", 400),
    ("unsupported_version", b"GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n", 505),
    ("transfer_encoding", b"POST /v1/verify HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
     b"\r\n\r\n0\r\n\r\n", 501),
    ("missing_host", b"GET /healthz HTTP/1.1\r\n\r\n", 400),
    ("duplicate_authorization", b"GET /v1/verify HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer a"
     b"\r\nAuthorization: Bearer b\r\n\r\n", 400),
]


class ServeHttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = rs.RingwardServer(
            tls=False, unix=True,
            server={"header_timeout_ms": 600, "idle_timeout_ms": 1500, "max_head_bytes": 2048,
                    "max_body_bytes": 4096}).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        log = cls.server.log_text()
        cls.server.close()
        assert code == 0, f"exit code {code}\n{log}"

    def setUp(self):
        self.s = self.server

    def test_pipelined_requests_are_answered_in_order(self):
        token = self.s.mint({"sub": "alice"})
        requests = (b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n" + HEALTH +
                    f"GET /v1/verify HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n\r\n"
                    .encode() +
                    b"GET /v1/verify HTTP/1.1\r\nHost: t\r\n\r\n" +
                    b"POST /v1/verify HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nx.y.z\n")
        with self.s.connect() as c:
            c.send(requests)  # one send: several requests in one segment
            statuses = [c.read_response() for _ in range(5)]
            self.assertEqual([st for st, _, _ in statuses], [404, 200, 200, 401, 200])
            self.assertEqual(statuses[1][2], b"ok\n")
            self.assertEqual(rs.header(statuses[2][1], "X-Auth-Subject"), "alice")
            self.assertEqual(statuses[4][2], b"invalid\n")
            # Still open (keep-alive) after the batch.
            c.send(HEALTH)
            self.assertEqual(c.read_response()[0], 200)

    def test_deep_pipeline_from_a_client_that_reads_late(self):
        # Far more responses than fit one output buffer: the server must stop answering (and
        # reading) while the client does not read, then resume, in order, losing nothing.
        count = 6000
        before = self.s.metrics()
        with self.s.connect(timeout=20, rcvbuf=4096) as c:
            batch = b"".join(b"GET /healthz?n=%d HTTP/1.1\r\nHost: t\r\n\r\n" % i
                             for i in range(count))
            sender = threading.Thread(target=c.send, args=(batch,))
            sender.start()
            time.sleep(0.3)  # let both sides' buffers fill up
            for _ in range(count // 2):
                status, _, body = c.read_response()
                self.assertEqual((status, body), (200, b"ok\n"))
            sender.join(timeout=10)
            for _ in range(count - count // 2):
                status, _, body = c.read_response()
                self.assertEqual((status, body), (200, b"ok\n"))
            c.send(HEALTH)
            self.assertEqual(c.read_response()[0], 200)

    def test_half_close_while_answers_are_backed_up(self):
        # Megabytes of answers to a client that sent its requests, half-closed and only then
        # starts reading: the server is still holding requests back when it sees the EOF, and
        # must answer every one of them before closing.
        count = 800
        with self.s.connect(timeout=20, rcvbuf=4096) as c:
            c.send(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n" * count + HEALTH)
            c.sock.shutdown(socket.SHUT_WR)
            time.sleep(0.5)
            total = 0
            for _ in range(count):
                status, _, body = c.read_response()
                self.assertEqual(status, 200)
                total += len(body)
            self.assertGreater(total, 4 << 20)
            self.assertEqual(c.read_response()[2], b"ok\n")
            self.assertEqual(c.read_until_close(timeout=5), b"")

    def test_requests_split_byte_by_byte_still_parse(self):
        with self.s.connect() as c:
            for i in range(len(HEALTH)):
                c.send(HEALTH[i:i + 1])
                time.sleep(0.001)
            self.assertEqual(c.read_response()[2], b"ok\n")

    def test_ambiguous_requests_get_one_answer_then_close(self):
        for name, request, status in AMBIGUOUS:
            with self.subTest(name=name):
                with self.s.connect() as c:
                    c.send(request + HEALTH)
                    got, headers, _ = c.read_response()
                    self.assertEqual(got, status)
                    self.assertEqual(rs.header(headers, "Connection"), "close")
                    rest = c.read_until_close(timeout=3)
                    # The pipelined /healthz was not processed: nothing follows the error.
                    self.assertEqual(rest, b"")
        text = self.s.metrics()
        self.assertGreaterEqual(
            rs.metric_value(text, 'ringward_http_parse_errors_total{reason="bare_lf"}'), 1)

    def test_error_after_a_good_request_answers_the_good_one_first(self):
        with self.s.connect() as c:
            c.send(HEALTH + b"GET /healthz HTTP/1.1\nHost: t\r\n\r\n" + HEALTH)
            self.assertEqual(c.read_response()[0], 200)
            status, headers, _ = c.read_response()
            self.assertEqual(status, 400)
            self.assertEqual(c.read_until_close(timeout=3), b"")

    def test_oversized_head_gets_431_and_oversized_body_413(self):
        with self.s.connect() as c:
            c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"a" * 3000 + b"\r\n\r\n")
            self.assertEqual(c.read_response()[0], 431)
            self.assertEqual(c.read_until_close(timeout=3), b"")
        with self.s.connect() as c:
            c.send(b"POST /v1/verify HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n")
            self.assertEqual(c.read_response()[0], 413)
            self.assertEqual(c.read_until_close(timeout=3), b"")

    def test_body_within_limits_across_several_sends(self):
        token = self.s.mint({"sub": "zed"})
        body = ("\n".join([token] * 3) + "\n").encode()
        self.assertLess(len(body), 4096)
        with self.s.connect() as c:
            c.send(b"POST /v1/verify HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                   b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
            time.sleep(0.05)
            c.send(body[:100])
            time.sleep(0.05)
            c.send(body[100:])
            status, _, got = c.read_response()
            self.assertEqual((status, got), (200, b"ok zed\n" * 3))

    def test_expect_100_continue(self):
        with self.s.connect() as c:
            c.send(b"POST /v1/verify HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n"
                   b"Expect: 100-continue\r\n\r\n")
            self.assertEqual(c.read_response()[0], 100)
            c.send(b"x.y.z\n")
            status, _, body = c.read_response()
            self.assertEqual((status, body), (200, b"invalid\n"))

    def test_slow_client_is_closed_after_the_header_timeout(self):
        before = rs.metric_value(self.s.metrics(),
                                 'ringward_connections_timed_out_total{phase="header"}')
        with self.s.connect() as c:
            start = time.monotonic()
            c.send(b"GET /healthz HTTP/1.1\r\nHo")  # half a head, then nothing
            self.assertEqual(c.read_until_close(timeout=5), b"")
            elapsed = time.monotonic() - start
            self.assertGreater(elapsed, 0.5)
            self.assertLess(elapsed, 3)
        after = rs.metric_value(self.s.metrics(),
                                'ringward_connections_timed_out_total{phase="header"}')
        self.assertEqual(after, before + 1)

    def test_trickling_head_does_not_extend_the_header_timeout(self):
        with self.s.connect() as c:
            start = time.monotonic()
            c.send(b"GET /healthz HTTP/1.1\r\n")
            with self.assertRaises((ConnectionError, BrokenPipeError, ConnectionResetError)):
                for _ in range(40):
                    c.send(b"X-A: b\r\n")
                    time.sleep(0.1)
                    c.sock.settimeout(0.01)
                    try:
                        if c.sock.recv(1) == b"":
                            raise ConnectionError("closed")
                    except socket.timeout:
                        pass
            self.assertLess(time.monotonic() - start, 3)

    def test_idle_keep_alive_connection_is_closed(self):
        with self.s.connect() as c:
            c.send(HEALTH)
            self.assertEqual(c.read_response()[0], 200)
            start = time.monotonic()
            self.assertEqual(c.read_until_close(timeout=5), b"")
            self.assertGreater(time.monotonic() - start, 1.2)

    def test_connection_close_and_http_1_0(self):
        with self.s.connect() as c:
            c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" + HEALTH)
            status, headers, _ = c.read_response()
            self.assertEqual(status, 200)
            self.assertEqual(rs.header(headers, "Connection"), "close")
            self.assertEqual(c.read_until_close(timeout=3), b"")
        with self.s.connect() as c:
            c.send(b"GET /healthz HTTP/1.0\r\n\r\n")
            self.assertEqual(c.read_response()[0], 200)
            self.assertEqual(c.read_until_close(timeout=3), b"")
        with self.s.connect() as c:
            c.send(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            status, headers, _ = c.read_response()
            self.assertEqual(rs.header(headers, "Connection"), "keep-alive")
            c.send(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            self.assertEqual(c.read_response()[0], 200)

    def test_client_half_close_still_gets_its_answer(self):
        with self.s.connect() as c:
            c.send(HEALTH)
            c.sock.shutdown(socket.SHUT_WR)
            status, _, body = c.read_response()
            self.assertEqual((status, body), (200, b"ok\n"))
            self.assertEqual(c.read_until_close(timeout=3), b"")

    def test_unix_socket_listener(self):
        token = self.s.mint({"sub": "unix-user"})
        proc = subprocess.run(["curl", "-sS", "-i", "--unix-socket", self.s.unix_path, "-H",
                               f"Authorization: Bearer {token}", "http://localhost/v1/verify"],
                              capture_output=True, timeout=10)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(b"\r\nX-Auth-Subject: unix-user\r\n", proc.stdout)


if __name__ == "__main__":
    rw.main(globals())
