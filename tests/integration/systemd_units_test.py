#!/usr/bin/python3
"""The systemd files in systemd/ as systemd itself reads them.

systemd-analyze verifies the units (syntax, unknown keys, the binary and the man page they name),
rates the service's sandbox, and expands its system call filter; systemd-sysusers and
systemd-tmpfiles apply the sysusers.d and tmpfiles.d files to a scratch root. When strace is
installed, the real server runs under it and every system call it makes must be one the unit's
SystemCallFilter= allows. Exits 77 (meson's "skipped") when systemd-analyze is missing.

Usage: systemd_units_test.py RINGWARD_BINARY
"""
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYSTEMD_DIR = os.path.join(ROOT, "systemd")
SERVICE = os.path.join(SYSTEMD_DIR, "ringward.service")
SOCKET = os.path.join(SYSTEMD_DIR, "ringward.socket")
SYSUSERS = os.path.join(SYSTEMD_DIR, "ringward.sysusers")
TMPFILES = os.path.join(SYSTEMD_DIR, "ringward.tmpfiles")
MAN_PAGE = os.path.join(ROOT, "docs", "ringward.8")
BINARY = None  # set from argv[1]

# The sandbox must rate at least "OK" (exposure 2.0 or less) in `systemd-analyze security`.
MAX_EXPOSURE = 2.0


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kwargs)


def unit_values(path, key):
    """Every value of key= in the unit file, in order (no section or continuation handling
    beyond what these units use)."""
    values = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith(key + "="):
                values.append(line[len(key) + 1:])
    return values


def expand_syscall_set(name, cache={}):
    """The system calls of a systemd syscall group (recursively) or of a single name."""
    if not name.startswith("@"):
        return {name}
    if name not in cache:
        out = run(["systemd-analyze", "syscall-filter", name]).stdout
        names = set()
        for line in out.splitlines()[1:]:
            word = line.strip()
            if not word or word.startswith("#"):
                continue
            names |= expand_syscall_set(word)
        cache[name] = names
    return cache[name]


def allowed_syscalls(unit):
    """The allow list SystemCallFilter= lines build: the first line (not starting with ~) sets
    it, later "~..." lines remove from it and plain lines add to it, as systemd does."""
    lines = unit_values(unit, "SystemCallFilter")
    if not lines or lines[0].startswith("~"):
        raise AssertionError(f"{unit}: SystemCallFilter= must start with an allow list")
    allowed = set()
    for line in lines:
        deny = line.startswith("~")
        for word in line.lstrip("~").split():
            if deny:
                allowed -= expand_syscall_set(word)
            else:
                allowed |= expand_syscall_set(word)
    return allowed


class SystemdUnitsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def staged_units(self):
        """Copies of the units whose ExecStart names the binary under test (systemd-analyze
        verify checks that it exists), and the man page where `man` finds it."""
        with open(SERVICE) as f:
            service = f.read()
        self.assertIn("ExecStart=/usr/bin/ringward serve --config /etc/ringward/ringward.toml\n",
                      service)
        service_copy = os.path.join(self.dir.name, "ringward.service")
        with open(service_copy, "w") as f:
            f.write(service.replace("/usr/bin/ringward ", BINARY + " "))
        socket_copy = os.path.join(self.dir.name, "ringward.socket")
        shutil.copy(SOCKET, socket_copy)
        man_dir = os.path.join(self.dir.name, "man", "man8")
        os.makedirs(man_dir)
        shutil.copy(MAN_PAGE, man_dir)
        return service_copy, socket_copy, os.path.dirname(man_dir)

    def test_units_verify_without_a_warning(self):
        service, socket, man_path = self.staged_units()
        # verify also opens Documentation=man:ringward(8) with man(1), when there is one.
        man = [] if shutil.which("man") else ["--man=no"]
        proc = run(["systemd-analyze", "verify", *man, service, socket],
                   env=dict(os.environ, MANPATH=man_path))
        # verify exits 0 on "Unknown key ..., ignoring" too: any output at all is a failure.
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr.strip(), "")

    def test_verify_catches_a_broken_unit(self):
        # The check above is only worth something if verify complains about a bad key here.
        service, _, _ = self.staged_units()
        with open(service, "a") as f:
            f.write("[Service]\nWatchdogSecs=10s\n")
        proc = run(["systemd-analyze", "verify", "--man=no", service])
        self.assertIn("WatchdogSecs", proc.stderr)

    def test_security_exposure_is_ok_or_better(self):
        proc = run(["systemd-analyze", "security", "--offline=yes", "--no-pager", SERVICE])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        match = re.search(r"Overall exposure level for ringward\.service: ([0-9.]+) (\w+)",
                          proc.stdout)
        self.assertIsNotNone(match, proc.stdout[-2000:])
        exposure, rating = float(match.group(1)), match.group(2)
        print(f"systemd-analyze security: {exposure} {rating}", file=sys.stderr)
        self.assertLessEqual(exposure, MAX_EXPOSURE, proc.stdout)
        self.assertIn(rating, ("PERFECT", "SAFE", "OK"))
        # The same bound, as systemd-analyze enforces it (threshold in tenths).
        proc = run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                    f"--threshold={int(MAX_EXPOSURE * 10)}", SERVICE])
        self.assertEqual(proc.returncode, 0, proc.stdout[-2000:])

    def test_service_keeps_what_the_server_needs(self):
        self.assertEqual(unit_values(SERVICE, "Type"), ["notify"])
        self.assertEqual(unit_values(SERVICE, "WatchdogSec"), ["10s"])
        self.assertEqual(unit_values(SERVICE, "ExecReload"), ["/bin/kill -HUP $MAINPID"])
        # serve exits 78 (EX_CONFIG) when its configuration is unusable: no restart loop.
        self.assertEqual(unit_values(SERVICE, "RestartPreventExitStatus"), ["78"])
        self.assertEqual(unit_values(SERVICE, "User"), ["ringward"])
        self.assertEqual(unit_values(SERVICE, "CapabilityBoundingSet"), [""])
        allowed = allowed_syscalls(SERVICE)
        for name in ("io_uring_setup", "io_uring_enter", "io_uring_register",
                     "sched_setaffinity", "sched_getaffinity", "sched_setscheduler",
                     "rt_sigtimedwait", "fdatasync"):
            with self.subTest(syscall=name):
                self.assertTrue(name in allowed, f"SystemCallFilter= refuses {name}")
        for name in ("mount", "ptrace", "setuid", "reboot", "init_module", "bpf"):
            with self.subTest(denied=name):
                self.assertFalse(name in allowed, f"SystemCallFilter= allows {name}")
        credentials = [v.split(":", 1)[0] for v in unit_values(SERVICE, "LoadCredential")]
        self.assertEqual(credentials, ["admin-token", "keys.json", "tls"])

    def test_socket_and_service_wait_for_the_same_config(self):
        condition = ["/etc/ringward/ringward.toml"]
        self.assertEqual(unit_values(SERVICE, "ConditionPathExists"), condition)
        self.assertEqual(unit_values(SOCKET, "ConditionPathExists"), condition)
        self.assertEqual(unit_values(SOCKET, "ReusePort"), ["yes"])
        self.assertEqual(unit_values(SOCKET, "ListenStream"), ["127.0.0.1:8443", "[::1]:8443"])

    def test_sysusers_and_tmpfiles_build_the_layout(self):
        if os.geteuid() != 0:
            self.skipTest("systemd-tmpfiles sets owners: needs root")
        root = self.dir.name
        os.makedirs(os.path.join(root, "etc"))
        proc = run(["systemd-sysusers", f"--root={root}", SYSUSERS])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(os.path.join(root, "etc", "passwd")) as f:
            users = {line.split(":")[0]: line.strip().split(":") for line in f}
        self.assertIn("ringward", users)
        uid = int(users["ringward"][2])
        self.assertLess(uid, 1000, "a system user")
        self.assertEqual(users["ringward"][5], "/var/lib/ringward")
        self.assertTrue(users["ringward"][6].endswith("nologin"))

        proc = run(["systemd-tmpfiles", f"--root={root}", "--create", TMPFILES])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        expected = {"etc/ringward": (0o755, 0), "etc/ringward/tls": (0o700, 0),
                    "var/lib/ringward": (0o700, uid)}
        for path, (mode, owner) in expected.items():
            with self.subTest(path=path):
                st = os.stat(os.path.join(root, path))
                self.assertTrue(stat.S_ISDIR(st.st_mode))
                self.assertEqual(stat.S_IMODE(st.st_mode), mode)
                self.assertEqual(st.st_uid, owner)

    def test_server_stays_inside_the_syscall_filter(self):
        if shutil.which("strace") is None:
            self.skipTest("strace is not installed (apt-get install strace)")
        allowed = allowed_syscalls(SERVICE)
        trace = os.path.join(self.dir.name, "trace")
        data = os.path.join(self.dir.name, "dev")
        # sd_notify and the watchdog's pings run too, to a socket standing in for systemd's.
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(notify.close)
        notify.bind(os.path.join(self.dir.name, "notify"))
        env = dict(os.environ, NOTIFY_SOCKET=os.path.join(self.dir.name, "notify"),
                   WATCHDOG_USEC="200000")
        env.pop("WATCHDOG_PID", None)
        proc = subprocess.Popen(
            ["strace", "-f", "-qq", "-o", trace, BINARY, "serve", "--dev", "--data-dir", data,
             "--listen", "127.0.0.1:0", "--plain-listen", "127.0.0.1:0", "--shards", "2",
             "--admin-listen", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        try:
            port = None
            deadline = time.monotonic() + 60
            while port is None and time.monotonic() < deadline:
                line = proc.stderr.readline()
                if not line:
                    break
                m = re.search(r"event=listening address=127\.0\.0\.1:(\d+) tls=no", line)
                if m:
                    port = int(m.group(1))
            self.assertIsNotNone(port, "the server did not report its plain listener")
            for path in ("/healthz", "/readyz", "/v1/verify"):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10)
                except urllib.error.HTTPError:
                    pass  # 401 for /v1/verify without a token: the request was served
            # Signals go to the server, strace's child: strace would not pass them on.
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                server_pid = int(f.read().split()[0])
            os.kill(server_pid, signal.SIGHUP)  # the reload path too
            time.sleep(0.5)
            os.kill(server_pid, signal.SIGTERM)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()
        used = set()
        with open(trace) as f:
            for line in f:
                m = re.match(r"\d+\s+([a-z0-9_]+)\(", line)
                if m:
                    used.add(m.group(1))
        # execve is the exec strace does; systemd applies the filter after it.
        used.discard("execve")
        self.assertIn("io_uring_enter", used, "the trace should show the server at work")
        self.assertEqual(sorted(used - allowed), [],
                         "system calls SystemCallFilter= would refuse (EPERM)")


def main():
    global BINARY
    if shutil.which("systemd-analyze") is None:
        print("SKIP: systemd-analyze is not installed (apt-get install systemd)")
        sys.exit(77)
    BINARY = os.path.abspath(sys.argv[1])
    sys.argv = sys.argv[:1] + sys.argv[2:]
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
