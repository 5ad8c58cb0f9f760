#!/usr/bin/python3
"""`ringward serve` as systemd runs it, with systemd's side played by this test.

- sd_notify: a fake $NOTIFY_SOCKET (an AF_UNIX datagram socket in a temp dir) receives READY=1
  once every shard serves, RELOADING=1 then READY=1 around SIGHUP (with STATUS= saying whether
  the reload worked), and STOPPING=1 on SIGTERM, in that order.
- Watchdog: with $WATCHDOG_USEC the server pings WATCHDOG=1 every half interval, and stops while
  one shard is stuck (the RINGWARD_TEST_STALL_SHARD hook), resuming after.
- Socket activation: listening sockets made here are passed as fd 3, 4, ... with $LISTEN_FDS
  and $LISTEN_PID (a tiny exec wrapper sets LISTEN_PID to the server's own pid), and requests on
  them are served; a passed socket the config does not name is refused with a clear message.
- `ringward config check` (exit codes, messages, --print with overrides), the --listen/--shards
  flags and RINGWARD_* variables, exit code 78 for configuration errors, and the sampled access
  log.

Usage: serve_systemd_test.py RINGWARD_BINARY
"""
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ringward_cli as rw  # noqa: E402
import ringward_server as rs  # noqa: E402

LISTENING_RE = re.compile(r"^<6>ringward: event=listening address=(\S+) tls=(yes|no) shards=(\d+)")
# Every line the server logs: a syslog priority, then logfmt fields.
LOG_LINE_RE = re.compile(r'^<[0-7]>ringward: (event|msg)=("[^"]*"|\S+)( [a-z_]+=("([^"\\]|\\.)*"|\S+))*$')

# Sets LISTEN_PID to its own pid (which exec keeps), moves the inherited sockets to fd 3, 4, ...
# and execs the server: what systemd does between fork and exec.
EXEC_WRAPPER = r"""
import fcntl, os, sys
n = int(sys.argv[1])
sources = [int(x) for x in sys.argv[2:2 + n]]
moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) for fd in sources]
for fd in sources:
    os.close(fd)
for i, fd in enumerate(moved):
    os.dup2(fd, 3 + i, inheritable=True)
    os.close(fd)
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDS"] = str(n)
os.execv(sys.argv[2 + n], sys.argv[2 + n:])
"""


class Workspace:
    """A temp directory with a key set, a certificate and config files."""

    def __init__(self):
        self._dir = tempfile.TemporaryDirectory()
        self.dir = self._dir.name
        self.keys, _ = rw.keygen("EdDSA", "key-1", self.dir)
        self.cert, self.key = rs.make_certificate(self.dir)

    def config(self, name="ringward.toml", listen=(), plain_listen=("127.0.0.1:0",), shards=2,
               server=None, extra=""):
        lines = ["[server]", f"listen = {rs.toml_list(list(listen))}",
                 f"plain_listen = {rs.toml_list(list(plain_listen))}", f"shards = {shards}",
                 "shutdown_grace_ms = 1000"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in (server or {}).items()]
        lines += ["[tls]", f"certificate = {json.dumps(self.cert)}",
                  f"private_key = {json.dumps(self.key)}", "[tokens]",
                  f"keys = {json.dumps(self.keys)}", f"issuers = {rs.toml_list([rs.ISSUER])}",
                  f"audiences = {rs.toml_list([rs.AUDIENCE])}"]
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)
        return path

    def mint(self, sub="alice"):
        claims = {"iss": rs.ISSUER, "aud": rs.AUDIENCE, "sub": sub, "client_id": "web",
                  "scope": "read"}
        return rw.run("token", "mint", "--keys", self.keys, "--claims", json.dumps(claims),
                      check=0).stdout.strip()

    def close(self):
        self._dir.cleanup()


class Server:
    """One `ringward serve` process whose stderr is collected line by line."""

    def __init__(self, args, env=None, sockets=()):
        full_env = dict(os.environ)
        for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
                  "LISTEN_FDNAMES", "RINGWARD_LISTEN", "RINGWARD_PLAIN_LISTEN", "RINGWARD_SHARDS",
                  "RINGWARD_DATA_DIR", "RINGWARD_TEST_HOOKS", "RINGWARD_TEST_STALL_SHARD",
                  "CREDENTIALS_DIRECTORY"):
            full_env.pop(k, None)
        full_env.update(env or {})
        command = [rw.BINARY, "serve", *args]
        pass_fds = ()
        if sockets:
            fds = [s.fileno() for s in sockets]
            command = [sys.executable, "-c", EXEC_WRAPPER, str(len(fds)), *map(str, fds),
                       *command]
            pass_fds = tuple(fds)
        self.proc = subprocess.Popen(command, env=full_env, pass_fds=pass_fds,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def log(self):
        with self._lock:
            return list(self.lines)

    def log_text(self):
        return "\n".join(self.log())

    def wait_log(self, pattern, timeout=15, count=1):
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in (regex.search(line) for line in self.log()) if m]
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                time.sleep(0.1)
                found = [m for m in (regex.search(line) for line in self.log()) if m]
                if len(found) >= count:
                    return found
                raise AssertionError(f"ringward exited {self.proc.returncode} before logging "
                                     f"{pattern!r}:\n" + self.log_text())
            time.sleep(0.02)
        raise AssertionError(f"no log line matching {pattern!r}:\n" + self.log_text())

    def plain_port(self):
        for m in self.wait_log(LISTENING_RE.pattern):
            if m.group(2) == "no" and not m.group(1).startswith("unix:"):
                return int(m.group(1).rsplit(":", 1)[1])
        raise AssertionError("no plain listener:\n" + self.log_text())

    def wait(self, timeout=20):
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("ringward did not exit:\n" + self.log_text())
        self._reader.join(timeout=5)
        return code

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.wait()
        self.proc.stderr.close()
        return code


class NotifySocket:
    """The datagram socket systemd listens on; records (time, fields) of every message."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if line)
            with self._lock:
                self.messages.append((time.monotonic(), fields))

    def snapshot(self):
        with self._lock:
            return list(self.messages)

    def wait_for(self, key, count=1, timeout=15):
        """Waits until |count| messages hold |key|; returns all messages so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.snapshot()
            if len([m for _, m in messages if key in m]) >= count:
                return messages
            time.sleep(0.02)
        raise AssertionError(f"no {count} x {key} in {self.snapshot()}")

    def pings(self):
        return [t for t, m in self.snapshot() if m.get("WATCHDOG") == "1"]

    def close(self):
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()


def http_get(port, path, token=None, timeout=5):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def listening_socket(port=0, reuse_port=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    return s


class SystemdTestCase(unittest.TestCase):
    def setUp(self):
        self.ws = Workspace()
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            if s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait()
            if not s.proc.stderr.closed:
                s.proc.stderr.close()
        self.ws.close()

    def serve(self, args, **kwargs):
        server = Server(args, **kwargs)
        self.servers.append(server)
        return server

    def assert_log_is_structured(self, server):
        for line in server.log():
            self.assertRegex(line, LOG_LINE_RE)


class NotifyTest(SystemdTestCase):
    def test_ready_reload_and_stopping_arrive_in_order(self):
        notify = NotifySocket(self.ws.dir)
        self.addCleanup(notify.close)
        config = self.ws.config(shards=2)
        server = self.serve(["--config", config], env={"NOTIFY_SOCKET": notify.path})
        notify.wait_for("READY")
        # READY=1 means every shard serves: /readyz must already say so.
        port = server.plain_port()
        self.assertEqual(http_get(port, "/readyz"), 200)
        ready = [m for _, m in notify.snapshot() if "READY" in m][0]
        self.assertEqual(ready["READY"], "1")
        self.assertRegex(ready["STATUS"], rf"serving on 127\.0\.0\.1:{port} \(plain\); 2 shards")

        server.proc.send_signal(signal.SIGHUP)
        notify.wait_for("READY", count=2)
        # A broken config: the reload fails, the server says so and keeps serving.
        with open(config, "a") as f:
            f.write("[no_such_section]\nkey = 1\n")
        server.proc.send_signal(signal.SIGHUP)
        notify.wait_for("READY", count=3)
        self.assertEqual(http_get(port, "/healthz"), 200)
        server.proc.send_signal(signal.SIGTERM)
        self.assertEqual(server.wait(), 0, server.log_text())
        notify.wait_for("STOPPING")

        sequence = [m for _, m in notify.snapshot() if "WATCHDOG" not in m]
        kinds = [next(k for k in ("READY", "RELOADING", "STOPPING") if k in m) for m in sequence]
        self.assertEqual(kinds, ["READY", "RELOADING", "READY", "RELOADING", "READY", "STOPPING"],
                         sequence)
        reloading = sequence[1]
        self.assertEqual(reloading["RELOADING"], "1")
        now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.assertTrue(0 < int(reloading["MONOTONIC_USEC"]) <= now_usec, reloading)
        self.assertRegex(sequence[2]["STATUS"], r"^reload ok: serving on ")
        self.assertRegex(sequence[4]["STATUS"], r"^reload failed, still serving the previous "
                                                r"configuration: .*no_such_section")
        self.assertEqual(sequence[5]["STOPPING"], "1")
        self.assert_log_is_structured(server)
        server.proc.stderr.close()

    def test_no_notify_socket_no_messages_and_still_serves(self):
        server = self.serve(["--config", self.ws.config()])
        port = server.plain_port()
        self.assertEqual(http_get(port, "/healthz"), 200)
        self.assertEqual(server.stop(), 0)


class WatchdogTest(SystemdTestCase):
    def run_with_watchdog(self, seconds, env):
        notify = NotifySocket(self.ws.dir)
        self.addCleanup(notify.close)
        env = dict(env, NOTIFY_SOCKET=notify.path)
        server = self.serve(["--config", self.ws.config(shards=2)], env=env)
        notify.wait_for("READY")
        start = time.monotonic()
        time.sleep(seconds)
        self.assertEqual(server.stop(), 0, server.log_text())
        return [t - start for t in notify.pings() if t >= start], server

    def test_pings_arrive_every_half_interval(self):
        pings, server = self.run_with_watchdog(2.0, {"WATCHDOG_USEC": "400000"})
        # Every 200 ms: about 10 in 2 s; generous bounds for a busy machine.
        self.assertGreaterEqual(len(pings), 6, pings)
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        self.assertLess(max(gaps), 1.0, gaps)
        self.assertRegex(server.log_text(), r"event=watchdog status=on interval_ms=400")

    def test_watchdog_meant_for_another_process_is_ignored(self):
        pings, _ = self.run_with_watchdog(1.0, {"WATCHDOG_USEC": "400000",
                                               "WATCHDOG_PID": str(os.getpid())})
        self.assertEqual(pings, [])

    def test_pings_stop_while_a_shard_is_stuck_and_resume_after(self):
        # Shard 1 sleeps 2 s inside one loop turn, starting 1 s after it began serving.
        pings, server = self.run_with_watchdog(4.5, {
            "WATCHDOG_USEC": "400000", "RINGWARD_TEST_HOOKS": "1",
            "RINGWARD_TEST_STALL_SHARD": "1:2:1"})
        gaps = [(b - a, a) for a, b in zip(pings, pings[1:])]
        self.assertTrue(gaps, pings)
        longest, began = max(gaps)
        # No ping for (about) the whole stall: the other shard alone does not keep it alive.
        self.assertGreater(longest, 1.6, pings)
        self.assertLess(longest, 3.5, pings)
        # Pings before the stall and after it.
        self.assertTrue(any(t < began for t in pings), pings)
        self.assertGreaterEqual(len([t for t in pings if t > began + longest]), 3, pings)
        log = server.log_text()
        self.assertRegex(log, r"<4>ringward: event=watchdog status=stalled shards=1 ")
        self.assertRegex(log, r"<5>ringward: event=watchdog status=resumed ")

    def test_stall_hook_needs_test_hooks_enabled(self):
        pings, server = self.run_with_watchdog(3.0, {
            "WATCHDOG_USEC": "400000", "RINGWARD_TEST_STALL_SHARD": "1:2:0.5"})
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        self.assertGreaterEqual(len(pings), 8, pings)
        self.assertLess(max(gaps), 1.0, gaps)
        self.assertNotIn("stalled", server.log_text())


class SocketActivationTest(SystemdTestCase):
    def test_passed_socket_is_served_next_to_a_bound_one(self):
        passed = listening_socket()
        self.addCleanup(passed.close)
        port = passed.getsockname()[1]
        config = self.ws.config(plain_listen=[f"127.0.0.1:{port}", "127.0.0.1:0"], shards=2)
        server = self.serve(["--config", config], sockets=[passed],
                            env={"LISTEN_FDNAMES": "ringward"})
        lines = server.wait_log(LISTENING_RE.pattern, count=2)
        self.assertRegex(server.log_text(),
                         rf"event=listening address=127\.0\.0\.1:{port} tls=no shards=2 "
                         r"systemd_sockets=1")
        other = [int(m.group(1).rsplit(":", 1)[1]) for m in lines
                 if m.group(1) != f"127.0.0.1:{port}"]
        self.assertEqual(len(other), 1)
        # The server's copy is the only listener once ours is closed: requests still work, on
        # both shards (each has its own accept on the shared socket).
        passed.close()
        token = self.ws.mint()
        for _ in range(20):
            self.assertEqual(http_get(port, "/v1/verify", token), 200)
        self.assertEqual(http_get(other[0], "/healthz"), 200)
        self.assertEqual(server.stop(), 0, server.log_text())

    def test_one_socket_per_shard(self):
        sockets = [listening_socket(reuse_port=True)]
        port = sockets[0].getsockname()[1]
        sockets.append(listening_socket(port, reuse_port=True))
        config = self.ws.config(plain_listen=[f"127.0.0.1:{port}"], shards=2)
        server = self.serve(["--config", config], sockets=sockets)
        server.wait_log(rf"event=listening address=127\.0\.0\.1:{port} tls=no shards=2 "
                        r"systemd_sockets=2")
        for s in sockets:
            s.close()
        # The kernel spreads connections over both reuseport sockets: had a socket no shard
        # accepting on it, some of these would hang.
        for _ in range(40):
            self.assertEqual(http_get(port, "/healthz", timeout=3), 200)
        self.assertEqual(server.stop(), 0, server.log_text())

    def test_socket_not_in_config_is_refused(self):
        passed = listening_socket()
        self.addCleanup(passed.close)
        port = passed.getsockname()[1]
        config = self.ws.config(plain_listen=["127.0.0.1:0"])
        server = self.serve(["--config", config], sockets=[passed],
                            env={"LISTEN_FDNAMES": "ringward"})
        self.assertEqual(server.wait(), 78, server.log_text())
        log = server.log_text()
        self.assertIn(f"fd 3 (ringward) is bound to 127.0.0.1:{port}, which is in neither "
                      "[server] listen nor plain_listen of " + config, log)
        self.assertRegex(log, r"^<3>ringward: event=config_error ")
        server.proc.stderr.close()

    def test_environment_for_another_pid_is_ignored(self):
        config = self.ws.config(plain_listen=["127.0.0.1:0"])
        server = self.serve(["--config", config],
                            env={"LISTEN_FDS": "1", "LISTEN_PID": str(os.getpid())})
        self.assertEqual(http_get(server.plain_port(), "/healthz"), 200)
        self.assertEqual(server.stop(), 0)


class ConfigCheckTest(SystemdTestCase):
    def check(self, *args, env=None, code=None):
        full_env = dict(os.environ)
        for k in ("RINGWARD_LISTEN", "RINGWARD_PLAIN_LISTEN", "RINGWARD_SHARDS",
                  "RINGWARD_DATA_DIR", "CREDENTIALS_DIRECTORY"):
            full_env.pop(k, None)
        full_env.update(env or {})
        proc = subprocess.run([rw.BINARY, "config", "check", *args], capture_output=True,
                              text=True, timeout=30, env=full_env)
        if code is not None:
            self.assertEqual(proc.returncode, code, proc.stdout + proc.stderr)
        return proc

    def test_valid_file(self):
        config = self.ws.config()
        proc = self.check(config, code=0)
        self.assertEqual(proc.stdout, f"{config}: ok\n")

    def test_invalid_file_lists_every_problem(self):
        path = os.path.join(self.ws.dir, "bad.toml")
        with open(path, "w") as f:
            f.write("[server]\nshards = 5000\nlisten = [\"localhost:443\"]\nmystery = 1\n"
                    "[tokens]\nkeys = \"missing.json\"\nissuers = []\n")
        proc = self.check(path, code=1)
        self.assertEqual(proc.stdout, "")
        lines = proc.stderr.splitlines()
        self.assertEqual(len(lines), 3, proc.stderr)
        self.assertTrue(lines[0].startswith(f"{path}:2: [server] shards: must be between 0 and "
                                            "1024, got 5000"), lines)
        self.assertTrue(lines[1].startswith(f"{path}:3: [server] listen[0]: bad address "
                                            "\"localhost:443\""), lines)
        self.assertTrue(lines[2].startswith(f"{path}:4: unknown key \"mystery\" in [server]"),
                        lines)

    def test_cross_key_problems_are_reported_too(self):
        path = os.path.join(self.ws.dir, "bad.toml")
        with open(path, "w") as f:
            f.write("[tokens]\nkeys = \"missing.json\"\nissuers = []\n")
        proc = self.check(path, code=1)
        self.assertIn(f"{path}:2: [tokens] keys: cannot read", proc.stderr)
        self.assertIn(f"{path}:3: [tokens] issuers: at least one issuer is required",
                      proc.stderr)

    def test_usage_errors_exit_2(self):
        self.check(code=2)
        self.check("--bogus", self.ws.config(), code=2)
        self.check("a.toml", "b.toml", code=2)
        self.check("--shards", "x", self.ws.config(), code=2)
        self.check("--listen", "unix:/x", self.ws.config(), code=2)
        proc = subprocess.run([rw.BINARY, "config"], capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("usage: ringward config check", proc.stderr)

    def test_unreadable_file_exits_1(self):
        proc = self.check(os.path.join(self.ws.dir, "nope.toml"), code=1)
        self.assertIn("nope.toml", proc.stderr)

    def test_print_shows_the_effective_config_with_overrides(self):
        config = self.ws.config(shards=2)
        proc = self.check("--print", config, code=0)
        self.assertIn("\nshards = 2\n", proc.stdout)
        self.assertIn(f"{config}: ok", proc.stderr)
        # Flags win over the environment, the environment over the file.
        env = {"RINGWARD_SHARDS": "3", "RINGWARD_LISTEN": "127.0.0.1:9443,[::1]:9443",
               "RINGWARD_DATA_DIR": "state"}
        proc = self.check("--print", config, env=env, code=0)
        self.assertIn("\nshards = 3\n", proc.stdout)
        self.assertIn('\nlisten = ["127.0.0.1:9443", "[::1]:9443"]\n', proc.stdout)
        self.assertIn(f'\ndata_dir = "{os.path.join(os.getcwd(), "state")}"\n', proc.stdout)
        proc = self.check("--print", "--shards", "4", "--listen", "127.0.0.1:7443",
                          "--data-dir", "/var/tmp/rw", "--plain-listen", "unix:/run/rw.sock",
                          config, env=env, code=0)
        self.assertIn("\nshards = 4\n", proc.stdout)
        self.assertIn('\nlisten = ["127.0.0.1:7443"]\n', proc.stdout)
        self.assertIn('\nplain_listen = ["unix:/run/rw.sock"]\n', proc.stdout)
        self.assertIn('\ndata_dir = "/var/tmp/rw"\n', proc.stdout)
        # What --print shows is itself a valid config.
        printed = os.path.join(self.ws.dir, "printed.toml")
        with open(printed, "w") as f:
            f.write(proc.stdout)
        self.check(printed, code=0)

    def test_credentials_directory_is_expanded(self):
        credentials = os.path.join(self.ws.dir, "credentials")
        os.makedirs(credentials)
        os.rename(self.ws.keys, os.path.join(credentials, "keys.json"))
        config = self.ws.config()
        with open(config) as f:
            text = f.read().replace(json.dumps(self.ws.keys),
                                    '"${CREDENTIALS_DIRECTORY}/keys.json"')
        with open(config, "w") as f:
            f.write(text)
        proc = self.check("--print", config, env={"CREDENTIALS_DIRECTORY": credentials}, code=0)
        self.assertIn(f'\nkeys = "{credentials}/keys.json"\n', proc.stdout)
        proc = self.check(config, code=1)
        self.assertIn("uses $CREDENTIALS_DIRECTORY, which is not set", proc.stderr)


class OverridesAndExitCodesTest(SystemdTestCase):
    def shards_of(self, server):
        m = server.wait_log(LISTENING_RE.pattern)[0]
        return int(m.group(3))

    def test_flags_and_environment_override_the_file(self):
        config = self.ws.config(plain_listen=["127.0.0.1:0"], shards=1)
        server = self.serve(["--config", config, "--shards", "2"], env={"RINGWARD_SHARDS": "3"})
        self.assertEqual(self.shards_of(server), 2)  # the flag wins
        self.assertEqual(server.stop(), 0)
        server = self.serve(["--config", config], env={"RINGWARD_SHARDS": "3"})
        self.assertEqual(self.shards_of(server), 3)  # the environment wins over the file
        self.assertEqual(server.stop(), 0)

    def test_listen_flag_replaces_the_configured_listeners(self):
        taken = listening_socket()  # the file's address is busy: only the flag's is bound
        self.addCleanup(taken.close)
        config = self.ws.config(plain_listen=[f"127.0.0.1:{taken.getsockname()[1]}"], shards=1)
        server = self.serve(["--config", config, "--listen", "127.0.0.1:0",
                             "--plain-listen", "127.0.0.1:0"])
        lines = server.wait_log(LISTENING_RE.pattern, count=2)
        self.assertEqual(sorted(m.group(2) for m in lines), ["no", "yes"])
        self.assertNotIn(f":{taken.getsockname()[1]} ", server.log_text())
        self.assertEqual(http_get(server.plain_port(), "/healthz"), 200)
        self.assertEqual(server.stop(), 0)
        # And from the environment: a TLS listener.
        server = self.serve(["--config", config, "--plain-listen", "127.0.0.1:0"],
                            env={"RINGWARD_LISTEN": "127.0.0.1:0"})
        lines = server.wait_log(LISTENING_RE.pattern, count=2)
        self.assertEqual(sorted(m.group(2) for m in lines), ["no", "yes"])
        self.assertEqual(server.stop(), 0)

    def test_bad_config_exits_78(self):
        path = os.path.join(self.ws.dir, "bad.toml")
        with open(path, "w") as f:
            f.write("[server]\nshards = -3\n")
        server = self.serve(["--config", path])
        self.assertEqual(server.wait(), 78, server.log_text())
        log = server.log()
        self.assertTrue(log, "no log")
        for line in log:
            self.assertRegex(line, r"^<3>ringward: event=config_error error=")
        self.assertIn(f"{path}:2: [server] shards: must be between 0 and 1024, got -3",
                      server.log_text())
        server.proc.stderr.close()

    def test_bad_environment_exits_78_and_bad_flag_exits_2(self):
        config = self.ws.config()
        server = self.serve(["--config", config], env={"RINGWARD_SHARDS": "many"})
        self.assertEqual(server.wait(), 78, server.log_text())
        self.assertIn("RINGWARD_SHARDS", server.log_text())
        server.proc.stderr.close()
        server = self.serve(["--config", config, "--shards", "many"])
        self.assertEqual(server.wait(), 2, server.log_text())
        server.proc.stderr.close()

    def test_address_in_use_is_not_a_config_error(self):
        # A restart may cure it (the old process is still going away): exit 1, not 78.
        taken = listening_socket()  # no SO_REUSEPORT: the server cannot join it
        self.addCleanup(taken.close)
        config = self.ws.config(plain_listen=[f"127.0.0.1:{taken.getsockname()[1]}"])
        server = self.serve(["--config", config])
        self.assertEqual(server.wait(), 1, server.log_text())
        self.assertRegex(server.log_text(), r"<3>ringward: event=start_failed error=.*bind")
        server.proc.stderr.close()


class AccessLogTest(SystemdTestCase):
    def test_every_request_is_logged_at_sample_one_without_secrets(self):
        config = self.ws.config(server={"access_log_sample": 1.0})
        server = self.serve(["--config", config])
        port = server.plain_port()
        token = self.ws.mint()
        self.assertEqual(http_get(port, "/v1/verify", token), 200)
        self.assertEqual(http_get(port, "/v1/verify", token + "x"), 401)
        self.assertEqual(http_get(port, "/healthz?access_token=SeCrEt-QuErY"), 200)
        lines = [m.group(0) for m in server.wait_log(r"event=access .*", count=3)]
        fp = hashlib.sha256(token.encode()).hexdigest()[:8]
        fp_bad = hashlib.sha256((token + "x").encode()).hexdigest()[:8]
        self.assertRegex(lines[0], rf"^event=access shard=\d method=GET path=/v1/verify "
                                   rf"status=200 us=\d+ token={fp}$")
        self.assertRegex(lines[1], rf"path=/v1/verify status=401 us=\d+ token={fp_bad}$")
        self.assertRegex(lines[2], r"path=/healthz status=200 us=\d+ token=-$")
        self.assertEqual(server.stop(), 0)
        log = server.log_text()
        self.assertNotIn(token[:30], log)
        self.assertNotIn(token.split(".")[2][:20], log)
        self.assertNotIn("SeCrEt", log)
        self.assert_log_is_structured(server)

    def test_off_by_default_and_turned_on_by_reload(self):
        config = self.ws.config()
        server = self.serve(["--config", config])
        port = server.plain_port()
        for _ in range(5):
            self.assertEqual(http_get(port, "/healthz"), 200)
        time.sleep(0.2)
        self.assertNotIn("event=access", server.log_text())
        self.ws.config(server={"access_log_sample": 1.0})
        server.proc.send_signal(signal.SIGHUP)
        server.wait_log(r"event=reload status=ok")
        # Every shard picks the new rate up; a few requests reach both.
        for _ in range(6):
            self.assertEqual(http_get(port, "/healthz"), 200)
        server.wait_log(r"event=access .*path=/healthz status=200", count=6)
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    rw.main(globals())
