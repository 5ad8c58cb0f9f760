#!/usr/bin/python3
"""1000 concurrent keep-alive connections on `ringward serve` (plain HTTP), each answered twice,
plus connections beyond the per-shard limit being refused rather than queued."""
import os
import resource
import selectors
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ringward_cli as rw  # noqa: E402
import ringward_server as rs  # noqa: E402

CONNECTIONS = 1000


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def round_trip(socks, request, deadline):
    """Sends |request| on every socket at once and reads one complete response from each."""
    sel = selectors.DefaultSelector()
    pending = {}
    for s in socks:
        s.sendall(request)
        sel.register(s, selectors.EVENT_READ)
        pending[s] = b""
    answers = {}
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError("a connection was closed")
            pending[s] += chunk
            data = pending[s]
            if b"\r\n\r\n" in data:
                head, body = data.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if len(body) >= length:
                    answers[s] = head.split(b"\r\n")[0]
                    del pending[s]
                    sel.unregister(s)
    sel.close()
    if pending:
        raise AssertionError(f"{len(pending)} connections got no answer in time")
    return answers


class ServeLoadTest(unittest.TestCase):
    def test_1000_concurrent_keep_alive_connections(self):
        limit = raise_fd_limit(CONNECTIONS + 200)
        if limit < CONNECTIONS + 100:
            self.skipTest(f"RLIMIT_NOFILE is {limit}")
        with rs.RingwardServer(tls=False, shards=2) as s:
            token = s.mint({"sub": "many"})
            request = (f"GET /v1/verify HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}"
                       "\r\n\r\n").encode()
            socks = []
            try:
                for _ in range(CONNECTIONS):
                    socks.append(socket.create_connection(("127.0.0.1", s.http_port), timeout=10))
                deadline = time.monotonic() + 30
                for _ in range(2):  # the second round proves they were kept alive
                    answers = round_trip(socks, request, deadline)
                    self.assertEqual(len(answers), CONNECTIONS)
                    self.assertEqual(set(answers.values()), {b"HTTP/1.1 200 OK"})
                text = s.metrics()
                self.assertEqual(rs.metric_value(text, "ringward_open_connections"), CONNECTIONS + 1)
                self.assertEqual(
                    rs.metric_value(text, 'ringward_verify_total{reason="ok"}'), 2 * CONNECTIONS)
                per_shard = [rs.metric_value(text, f'ringward_open_connections{{shard="{i}"}}')
                             for i in range(2)]
                self.assertTrue(all(n > 0 for n in per_shard), per_shard)  # SO_REUSEPORT spread
            finally:
                for sock in socks:
                    sock.close()
            self.assertEqual(s.stop(), 0)

    def test_connections_beyond_the_shard_limit_are_refused(self):
        with rs.RingwardServer(tls=False, shards=1,
                               server={"max_connections_per_shard": 4}) as s:
            time.sleep(0.3)  # let the start-up probe's connection finish closing
            held = [s.connect() for _ in range(4)]
            try:
                for c in held:
                    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                    self.assertEqual(c.read_response()[0], 200)
                extra = s.connect()
                extra.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                self.assertEqual(extra.read_until_close(timeout=3), b"")
                extra.close()
                held.pop().close()
                time.sleep(0.2)
                with s.connect() as again:
                    again.send(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
                    status, _, body = again.read_response()
                    self.assertEqual(status, 200)
                    self.assertGreaterEqual(
                        rs.metric_value(body.decode(), "ringward_connections_rejected_total"), 1)
            finally:
                for c in held:
                    c.close()


if __name__ == "__main__":
    rw.main(globals())
