#!/usr/bin/python3
"""`ringward serve` over its life: SIGHUP key rotation without dropping connections, a reload
that fails and keeps the old state, and SIGTERM draining in-flight requests within the grace
period."""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ringward_cli as rw  # noqa: E402
import ringward_server as rs  # noqa: E402


def verify(conn, token):
    conn.send(f"GET /v1/verify HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n\r\n"
              .encode())
    return conn.read_response()


class ServeLifecycleTest(unittest.TestCase):
    def setUp(self):
        self.s = rs.RingwardServer(tls=True, server={"shutdown_grace_ms": 2000})
        self.s.start()

    def tearDown(self):
        self.s.close()

    def test_a_second_server_on_a_busy_port_fails_instead_of_sharing_it(self):
        # SO_REUSEPORT would let a second ringward of the same user join the first one's
        # listeners and silently take a share of its connections.
        with open(self.s.config_path) as f:
            config = f.read()
        busy = f'"127.0.0.1:{self.s.http_port}"'
        config = re.sub(r"(?m)^listen = .*$", "listen = []", config)
        config = re.sub(r"(?m)^plain_listen = .*$", f"plain_listen = [{busy}]", config)
        second = os.path.join(self.s.dir, "second.toml")
        with open(second, "w") as f:
            f.write(config)
        proc = rw.run("serve", "--config", second, check=1)
        self.assertIn(f"bind(127.0.0.1:{self.s.http_port}): address already in use",
                      proc.stderr)
        # Every connection still reaches the first server.
        for _ in range(20):
            status, _, _ = self.s.raw_request(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(status, 200)

    def shard_policies(self, server):
        """{thread name: scheduling policy} for every thread of |server|'s process."""
        policies = {}
        for tid in os.listdir(f"/proc/{server.proc.pid}/task"):
            with open(f"/proc/{server.proc.pid}/task/{tid}/comm") as f:
                policies[f.read().strip()] = os.sched_getscheduler(int(tid))
        return policies

    def test_shards_run_under_sched_batch_unless_told_otherwise(self):
        policies = self.shard_policies(self.s)
        self.assertEqual(policies["rw-shard-0"], os.SCHED_BATCH)
        self.assertEqual(policies["rw-shard-1"], os.SCHED_BATCH)
        # Only the shards: the other threads (the main one is named after the binary) keep the
        # policy they were started with.
        self.assertEqual(policies["ringward"], os.SCHED_OTHER)
        with rs.RingwardServer(tls=False, server={"shard_scheduling": "normal"}) as normal:
            policies = self.shard_policies(normal)
            self.assertEqual(policies["rw-shard-0"], os.SCHED_OTHER)
            self.assertEqual(policies["rw-shard-1"], os.SCHED_OTHER)
            status, _, _ = normal.raw_request(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(status, 200)
        # A reload cannot move running shards: it says so and keeps them as they are.
        self.s.server_options["shard_scheduling"] = "normal"
        self.s.write_config()
        self.s.send_signal(signal.SIGHUP)
        self.s.wait_log(r"event=reload status=restart_needed .*shard_scheduling")
        self.s.wait_log(r"event=reload status=ok")
        self.assertEqual(self.shard_policies(self.s)["rw-shard-0"], os.SCHED_BATCH)

    def test_sighup_rotates_keys_without_dropping_connections(self):
        old_token = self.s.mint({"sub": "old"})
        kept = self.s.connect()
        status, headers, _ = verify(kept, old_token)
        self.assertEqual(status, 200)
        self.assertEqual(rs.header(headers, "X-Auth-Subject"), "old")

        # A new key set with a new key only: old tokens must fail, new ones pass.
        new_keys, _ = rw.keygen("EdDSA", "key-2", self.s.dir)
        new_token = self.s.mint({"sub": "new"}, keys=new_keys)
        status, _, _ = verify(kept, new_token)
        self.assertEqual(status, 401)
        shutil.copyfile(new_keys, self.s.keys)
        self.s.send_signal(signal.SIGHUP)
        self.s.wait_log(r"event=reload status=ok .*kids=key-2\b")

        # The connection opened before the reload still works, and sees the new keys (the
        # old token was in the verified cache: the cache must have been cleared).
        status, headers, _ = verify(kept, new_token)
        self.assertEqual(status, 200)
        self.assertEqual(rs.header(headers, "X-Auth-Subject"), "new")
        status, _, _ = verify(kept, old_token)
        self.assertEqual(status, 401)
        kept.close()
        # Every shard switched (a fresh connection may land on any of them).
        for _ in range(8):
            with self.s.connect() as c:
                self.assertEqual(verify(c, new_token)[0], 200)
                self.assertEqual(verify(c, old_token)[0], 401)
        # The public JWKS follows.
        _, _, body = self.s.raw_request(b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual([k["kid"] for k in json.loads(body)["keys"]], ["key-2"])
        self.assertEqual(self.s.stop(), 0)

    def test_failed_reload_keeps_serving_the_previous_keys(self):
        token = self.s.mint({"sub": "keep"})
        with open(self.s.keys, "w") as f:
            f.write("{not json")
        self.s.send_signal(signal.SIGHUP)
        self.s.wait_log(r"^<3>ringward: event=reload status=failed")
        with self.s.connect() as c:
            self.assertEqual(verify(c, token)[0], 200)
        self.assertEqual(self.s.stop(), 0)

    def test_sigterm_drains_in_flight_requests_and_exits_0(self):
        token = self.s.mint({"sub": "drain"})
        idle = self.s.connect()
        self.assertEqual(verify(idle, token)[0], 200)
        busy = self.s.connect()
        request = f"GET /v1/verify HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n\r\n"
        busy.send(request[:20].encode())  # in flight: half a request
        time.sleep(0.1)
        start = time.monotonic()
        self.s.send_signal(signal.SIGTERM)
        # The idle keep-alive connection is closed at once.
        self.assertEqual(idle.read_until_close(timeout=2), b"")
        # The in-flight one gets its answer, marked Connection: close, and then the close.
        time.sleep(0.2)
        busy.send(request[20:].encode())
        status, headers, _ = busy.read_response()
        self.assertEqual(status, 200)
        self.assertEqual(rs.header(headers, "Connection"), "close")
        self.assertEqual(busy.read_until_close(timeout=2), b"")
        self.s.proc.wait(timeout=5)
        self.assertEqual(self.s.proc.returncode, 0, self.s.log_text())
        self.assertLess(time.monotonic() - start, 2.0 + 1.0)
        self.assertRegex(self.s.log_text(), r"<6>ringward: event=stopped status=clean")
        # Nothing listens any more.
        with self.assertRaises(ConnectionRefusedError):
            self.s.connect()
        idle.close()
        busy.close()

    def test_sigterm_gives_up_on_stalled_requests_after_the_grace_period(self):
        stalled = self.s.connect()
        stalled.send(b"GET /healthz HTTP/1.1\r\n")
        time.sleep(0.1)
        start = time.monotonic()
        self.s.send_signal(signal.SIGTERM)
        self.s.proc.wait(timeout=6)
        elapsed = time.monotonic() - start
        self.assertEqual(self.s.proc.returncode, 0)
        self.assertGreater(elapsed, 1.5)  # waited for it
        self.assertLess(elapsed, 3.5)     # but not past shutdown_grace_ms (2 s) by much
        stalled.close()


class DevModeTest(unittest.TestCase):
    def test_dev_mode_prints_curl_commands_that_work(self):
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, RINGWARD_SHARDS="1")
            proc = subprocess.Popen(
                [rw.BINARY, "serve", "--dev", "--data-dir", os.path.join(d, "var"),
                 "--listen", "127.0.0.1:0", "--plain-listen", "127.0.0.1:0",
                 "--admin-listen", "127.0.0.1:0"],
                cwd=d, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
            try:
                lines = []
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and len([l for l in lines if "curl" in l]) < 2:
                    line = proc.stdout.readline()
                    if not line:
                        break
                    lines.append(line)
                commands = [l.strip() for l in lines if l.strip().startswith("curl ")]
                self.assertEqual(len(commands), 2, "".join(lines))
                self.assertRegex(commands[0], r'^curl --cacert var/cert\.pem -H "Authorization: '
                                              r'Bearer [\w-]+\.[\w-]+\.[\w-]+" '
                                              r"https://127\.0\.0\.1:\d+/v1/verify$")
                self.assertRegex(commands[1], r"^curl -H .* http://127\.0\.0\.1:\d+/v1/verify$")
                for command in commands:
                    out = subprocess.run(shlex.split(command) + ["-sS", "-i"], cwd=d,
                                         capture_output=True, timeout=10)
                    self.assertEqual(out.returncode, 0, out.stderr)
                    self.assertIn(b"HTTP/1.1 200 OK", out.stdout)
                    self.assertIn(b"X-Auth-Subject: dev-user", out.stdout)
                proc.send_signal(signal.SIGINT)
                self.assertEqual(proc.wait(timeout=10), 0)
                log = proc.stderr.read()
                self.assertRegex(log, r"<6>ringward: event=listening address=127\.0\.0\.1:\d+ tls=yes "
                                      r"shards=1\n")
                self.assertNotIn(commands[0].split("Bearer ")[1][:40], log)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()
                proc.stderr.close()

    def test_usage_errors(self):
        proc = rw.run("serve", check=2)
        self.assertIn("--config FILE or --dev", proc.stderr)
        # A configuration that cannot be used exits 78 (EX_CONFIG): systemd does not restart it.
        proc = rw.run("serve", "--config", "/nonexistent/ringward.toml", check=78)
        self.assertRegex(proc.stderr, r"^<3>ringward: .*/nonexistent/ringward\.toml")


if __name__ == "__main__":
    rw.main(globals())
