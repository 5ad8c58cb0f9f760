#!/usr/bin/python3
"""bench/run: build ringward in release mode, benchmark it, and write a report.

One command for a load-tester: it builds (meson, release, its own build directory), starts two
ringward instances on free loopback ports (cache on, and cache off for the bulk case), each with
a state directory, an admin listener and issuance on, registers a client and a user through the
admin API, runs the Google Benchmark micro suites, then every load workload with ringward-load
(verify, bulk, issue, revoke, mixed) and the password-grant run (Python threads), R times each,
interleaved so that drift on a shared machine hits every target alike; optionally the same
workloads against the bundled peers (--peers) and any other verifier (--compare). It writes
report.md, summary.json, the JSON of every run and SVG charts into one results directory, and
stops every process it started, whatever happens.

Python 3 standard library only; loopback only; every wait is bounded.
"""
import argparse
import base64
import datetime
import http.client
import json
import os
import re
import resource
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import machine  # noqa: E402
import render  # noqa: E402

ISSUER = "https://ringward.local"
AUDIENCE = "edge-api"
LISTEN_RE = re.compile(r"event=listening address=(\S+) tls=(?:yes|(no)) shards=(\d+)")
ADMIN_LISTEN_RE = re.compile(r"event=admin_listening address=(\S+)")
# The client and user bench/run registers through the admin API. The scope is what
# ringward-load's issue workload asks for (its --scope default).
BENCH_CLIENT_ID = "bench-client"
BENCH_USER = "bench-user"
BENCH_SCOPE = "read write"
# ringward's argon2id defaults ([issuance] in config/ringward.toml), which bench/run leaves as
# they are: what a password grant costs out of the box.
ARGON2_DEFAULTS = {"argon2_memory_kib": 19456, "argon2_iterations": 2, "argon2_parallelism": 1,
                   "password_workers": 2}
PEER_PORTS = {"nginx_plain": 18080, "nginx_tls": 18443, "go_plain": 18081, "go_tls": 18444,
              "uring": 18090}


def log(msg):
    print(f"bench/run: {msg}", file=sys.stderr, flush=True)


class Fatal(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------------
USAGE_EPILOG = """\
examples:
  bench/run                          build, benchmark ringward alone, write results/<UTC time>/
  bench/run --peers                  also nginx, nginx+njs, Go golang-jwt and a bare io_uring
                                     server (../shared/peers), side by side in the same run
  bench/run --compare mine=http://127.0.0.1:9000/verify,pid=4242,tokens=tokens.txt
                                     also your current verifier, with your tokens
  bench/run --quick --no-build --build-dir build --out /tmp/b      a one-minute smoke test

--compare NAME=URL[,pid=PID[+PID...]][,tokens=FILE][,alg=ALG] (repeatable): with tokens= the
target joins the verify workloads of its scheme (http/https) and algorithm (read from the first
token's header unless alg= says), rotating the tokens of FILE (one per line); without tokens=
it joins the static workloads (GET URL). pid= lets the report show the server's CPU per request.
Loopback URLs only.
"""


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench/run", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Build ringward (release), benchmark it with its micro suites and "
                    "ringward-load, optionally side by side with other servers, and write a "
                    "report (report.md, summary.json, JSON and SVG per run).",
        epilog=USAGE_EPILOG)
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 1 repetition, 2 s runs, small pools, token micro suite only")
    p.add_argument("--duration", type=float, metavar="S",
                   help="seconds per load run (default 10; --quick 2)")
    p.add_argument("--repeat", type=int, metavar="R",
                   help="runs of every load workload per target; medians are reported "
                        "(default 3; --quick 1)")
    p.add_argument("--out", metavar="DIR", help="results directory (default results/<UTC time>)")
    p.add_argument("--no-build", action="store_true",
                   help="use the existing build directory as it is")
    p.add_argument("--build-dir", metavar="DIR",
                   help="meson build directory (default build-release, configured with "
                        "--buildtype=release)")
    p.add_argument("--peers", action="store_true",
                   help="start ../shared/peers and compare with nginx (static, njs HS256), "
                        "Go golang-jwt (HS256, EdDSA) and a bare io_uring server")
    p.add_argument("--peers-dir", metavar="DIR",
                   help="where the peers' start/stop scripts are (default ../shared/peers)")
    p.add_argument("--compare", action="append", default=[], metavar="NAME=URL[,...]",
                   help="another endpoint to run the same workloads against (repeatable)")
    p.add_argument("--connections", type=int, default=64, metavar="N",
                   help="keep-alive connections per closed-loop run (default 64)")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="ringward-load threads (default 1: the client shares the cores)")
    p.add_argument("--large-pool", type=int, metavar="N",
                   help="distinct tokens in the cache-miss verify runs (default 100000; "
                        "--quick 20000)")
    p.add_argument("--open-rate", type=float, metavar="R",
                   help="requests/s of the open-loop run (default: a third of the "
                        "closed-loop throughput measured for the same workload in the first "
                        "round)")
    p.add_argument("--micro-repetitions", type=int, metavar="N",
                   help="Google Benchmark repetitions (default 5; --quick 1)")
    p.add_argument("--no-micro", action="store_true", help="skip the Google Benchmark suites")
    p.add_argument("--quiet-load", type=float, metavar="L",
                   help="before the load runs, wait (up to 10 minutes, checking every 15 s) "
                        "for the 1-minute load average to fall below L")
    p.add_argument("--client", metavar="ID:SECRET",
                   help="client credentials for the issue/revoke/mixed workloads (default: a "
                        "client bench/run registers through ringward's admin API)")
    p.add_argument("--password-connections", type=int, default=4, metavar="N",
                   help="keep-alive TLS connections of the password-grant run (default 4)")
    args = p.parse_args(argv)
    if args.duration is None:
        args.duration = 2.0 if args.quick else 10.0
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.large_pool is None:
        args.large_pool = 20000 if args.quick else 100000
    if args.micro_repetitions is None:
        args.micro_repetitions = 1 if args.quick else 5
    if not 0.2 <= args.duration <= 600:
        p.error("--duration must be between 0.2 and 600 seconds")
    if not 1 <= args.repeat <= 50:
        p.error("--repeat must be between 1 and 50")
    if not 1 <= args.connections <= 10000 or not 1 <= args.threads <= 64:
        p.error("--connections must be 1..10000 and --threads 1..64")
    if not 1 <= args.micro_repetitions <= 50:
        p.error("--micro-repetitions must be 1..50")
    if not 1 <= args.password_connections <= 256:
        p.error("--password-connections must be 1..256")
    if args.client is not None and ":" not in args.client:
        p.error("--client takes ID:SECRET")
    args.build_dir = os.path.abspath(args.build_dir or os.path.join(ROOT, "build-release"))
    args.peers_dir = os.path.abspath(args.peers_dir or os.path.join(ROOT, "..", "shared", "peers"))
    try:
        args.compare = [parse_compare(spec) for spec in args.compare]
    except ValueError as e:
        p.error(str(e))
    args.argv = list(argv)
    return args


def is_loopback_host(host):
    if host in ("localhost", "::1"):
        return True
    try:
        return socket.inet_aton(host)[0] == 127 and host.count(".") == 3
    except OSError:
        return False


def parse_compare(spec):
    name, sep, rest = spec.partition("=")
    if not sep or not name or not rest:
        raise ValueError(f"--compare {spec!r}: expected NAME=URL[,pid=PID][,tokens=FILE]")
    fields = rest.split(",")
    url = fields[0]
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ValueError(f"--compare {name}: {url!r} is not an http:// or https:// URL")
    if not is_loopback_host(u.hostname):
        raise ValueError(f"--compare {name}: {u.hostname} is not a loopback address "
                         "(bench/run only talks to servers on this machine)")
    target = {"name": name, "url": url, "pids": [], "tokens": None, "alg": None}
    for f in fields[1:]:
        key, _, value = f.partition("=")
        if key == "pid":
            try:
                target["pids"] = [int(x) for x in value.split("+") if x]
            except ValueError:
                raise ValueError(f"--compare {name}: pid={value!r} is not a number") from None
        elif key == "tokens":
            path = os.path.abspath(value)
            if not os.path.isfile(path):
                raise ValueError(f"--compare {name}: no token file {value!r}")
            target["tokens"] = path
        elif key == "alg":
            target["alg"] = value
        else:
            raise ValueError(f"--compare {name}: unknown field {key!r} (pid, tokens, alg)")
    if target["tokens"] and not target["alg"]:
        target["alg"] = token_alg(target["tokens"])
    return target


def token_alg(path):
    """The alg of the first token in |path| (its header, base64url-decoded), or "token"."""
    try:
        with open(path) as f:
            first = f.readline().strip()
        head = first.split(".")[0]
        head += "=" * (-len(head) % 4)
        return json.loads(base64.urlsafe_b64decode(head)).get("alg", "token")
    except (OSError, ValueError):
        return "token"


# ---------------------------------------------------------------------------------------------
# Processes: everything started here is recorded and stopped on exit.
# ---------------------------------------------------------------------------------------------
class Cleanup:
    def __init__(self):
        self.actions = []

    def add(self, label, fn):
        self.actions.append((label, fn))

    def run(self):
        while self.actions:
            label, fn = self.actions.pop()
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - cleanup must go on
                log(f"cleanup of {label} failed: {e}")


def _raise_exit(signum, _frame):
    raise SystemExit(128 + signum)


def _die_with_parent():
    """preexec_fn: the child gets SIGTERM if bench/run dies without cleaning up (SIGKILL)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_checked(cmd, what, timeout, **kwargs):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired:
        raise Fatal(f"{what} took more than {timeout} s") from None
    if out.returncode != 0:
        tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-30:])
        raise Fatal(f"{what} failed (exit {out.returncode}):\n{tail}")
    return out.stdout


# ---------------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------------
def meson_targets(build_dir):
    """Executables of the build: {name: (path, defined_in relative to the source root)}."""
    path = os.path.join(build_dir, "meson-info", "intro-targets.json")
    try:
        with open(path) as f:
            targets = json.load(f)
    except (OSError, ValueError):
        raise Fatal(f"{build_dir} is not a configured meson build directory") from None
    found = {}
    for t in targets:
        if t.get("type") == "executable" and t.get("filename"):
            rel = os.path.relpath(t["defined_in"], ROOT) if t.get("defined_in") else ""
            found[t["name"]] = (t["filename"][0], rel)
    return found


def micro_suite_names(targets):
    return sorted(n for n, (_, d) in targets.items()
                  if d.startswith("bench" + os.sep) and not d.startswith(
                      os.path.join("bench", "load")))


def build(args, notes):
    bootstrap = os.path.join(ROOT, "tools", "bootstrap")
    if os.access(bootstrap, os.X_OK):
        run_checked([bootstrap], "tools/bootstrap", 1800)
    if not os.path.isfile(os.path.join(args.build_dir, "build.ninja")):
        log(f"meson setup {os.path.relpath(args.build_dir, ROOT)} --buildtype=release")
        run_checked(["meson", "setup", args.build_dir, ROOT, "--buildtype=release"],
                    "meson setup", 600)
    targets = meson_targets(args.build_dir)
    jobs = str(os.cpu_count() or 1)
    required = [os.path.relpath(targets[n][0], args.build_dir)
                for n in ("ringward", "ringward-load") if n in targets]
    if len(required) != 2:
        raise Fatal("the build has no ringward or ringward-load target")
    log(f"ninja -C {os.path.relpath(args.build_dir, ROOT)} ringward ringward-load")
    run_checked(["ninja", "-C", args.build_dir, "-j", jobs, *required], "ninja", 3600)
    if args.no_micro:
        return
    targets = meson_targets(args.build_dir)  # ninja may have re-run meson: new suites
    for name in micro_suite_names(targets):
        if args.quick and name != "token_bench":
            continue
        rel = os.path.relpath(targets[name][0], args.build_dir)
        log(f"ninja {name}")
        out = subprocess.run(["ninja", "-C", args.build_dir, "-j", jobs, rel],
                             capture_output=True, text=True, timeout=3600)
        if out.returncode != 0:
            notes.append(f"micro suite {name} did not build; skipped")


def build_info(build_dir):
    info = {"build_dir": os.path.relpath(build_dir, ROOT) if build_dir.startswith(ROOT)
            else build_dir}
    try:
        with open(os.path.join(build_dir, "meson-info", "intro-buildoptions.json")) as f:
            for o in json.load(f):
                if o["name"] in ("buildtype", "optimization", "b_ndebug", "march", "b_lto"):
                    info[o["name"]] = o["value"]
    except (OSError, ValueError):
        pass
    return info


# ---------------------------------------------------------------------------------------------
# ringward instances
# ---------------------------------------------------------------------------------------------
def toml_list(values):
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


class Ringward:
    """One `ringward serve` on loopback with a plain and (optionally) a TLS listener, a state
    directory, an admin listener and issuance on (argon2id at ringward's defaults)."""

    def __init__(self, exe, workdir, name, keys, cert, key, cache_entries, tls, cleanup):
        self.exe = exe
        self.name = name
        self.config = os.path.join(workdir, f"{name}.toml")
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.tls = tls
        self.data_dir = os.path.join(workdir, f"{name}-data")
        os.makedirs(self.data_dir, mode=0o700)
        self.admin_token = secrets.token_urlsafe(32)
        token_file = os.path.join(workdir, f"{name}-admin-token")
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.admin_token + "\n")
        lines = [
            "# bench/run: a benchmark instance of ringward (loopback, free ports, all cores).",
            f"data_dir = {json.dumps(self.data_dir)}",
            "",
            "[server]",
            f"listen = {toml_list(['127.0.0.1:0'] if tls else [])}",
            'plain_listen = ["127.0.0.1:0"]',
            "shards = 0",
            "shutdown_grace_ms = 1000",
            "metrics_on_public = true",
            "",
            "[tls]",
            f"certificate = {json.dumps(cert)}",
            f"private_key = {json.dumps(key)}",
            "",
            "[tokens]",
            f"keys = {json.dumps(keys)}",
            f"issuers = {toml_list([ISSUER])}",
            f"audiences = {toml_list([AUDIENCE])}",
            f"cache_entries = {cache_entries}",
            "bulk_max_tokens = 10000",
            "",
            "[admin]",
            'listen = ["127.0.0.1:0"]',
            f"token_file = {json.dumps(token_file)}",
            "",
            "# The token endpoint; argon2id and everything else at ringward's defaults.",
            "[issuance]",
            "enabled = true",
            f"issuer = {json.dumps(ISSUER)}",
            f"audiences = {toml_list([AUDIENCE])}",
        ]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None
        self.plain_port = None
        self.tls_port = None
        self.admin_port = None
        self.shards = None
        cleanup.add(f"ringward {name}", self.stop)

    def start(self, timeout=30):
        logf = open(self.log_path, "w")
        self.proc = subprocess.Popen([self.exe, "serve", "--config", self.config],
                                     stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        logf.close()
        want = 2 if self.tls else 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Fatal(f"ringward ({self.name}) exited {self.proc.returncode}:\n"
                            + self.log_text())
            text = self.log_text()
            found = [m for m in (LISTEN_RE.search(x) for x in text.splitlines()) if m]
            admin = ADMIN_LISTEN_RE.search(text)
            if len(found) >= want and admin:
                self.admin_port = int(admin.group(1).rsplit(":", 1)[1])
                for m in found:
                    port = int(m.group(1).rsplit(":", 1)[1])
                    if m.group(2):
                        self.plain_port = port
                    else:
                        self.tls_port = port
                    self.shards = int(m.group(3))
                break
            time.sleep(0.05)
        else:
            raise Fatal(f"ringward ({self.name}) did not start listening:\n" + self.log_text())
        while time.monotonic() < deadline:
            if http_status("127.0.0.1", self.plain_port, "GET", "/readyz") == 200:
                return
            time.sleep(0.05)
        raise Fatal(f"ringward ({self.name}) never answered /readyz with 200:\n" + self.log_text())

    def log_text(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def metrics(self):
        """(cache hits, cache misses) summed over shards, or None."""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.plain_port, timeout=5)
            conn.request("GET", "/metrics")
            body = conn.getresponse().read().decode("utf-8", "replace")
            conn.close()
        except (OSError, http.client.HTTPException):
            return None
        values = {}
        for line in body.splitlines():
            for series in ("ringward_verify_cache_hits_total", "ringward_verify_cache_misses_total"):
                if line.startswith(series + " "):
                    values[series] = float(line.split()[-1])
        if len(values) != 2:
            return None
        return values["ringward_verify_cache_hits_total"], values["ringward_verify_cache_misses_total"]

    def admin(self, method, path, body=None):
        """(status, decoded JSON or None) of one admin API request; raises Fatal when the
        admin listener does not answer."""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=10)
            headers = {"Authorization": f"Bearer {self.admin_token}"}
            data = None
            if body is not None:
                data = json.dumps(body)
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode("utf-8", "replace")
            conn.close()
        except (OSError, http.client.HTTPException) as e:
            raise Fatal(f"ringward ({self.name}) admin {method} {path}: {e}") from None
        try:
            return resp.status, json.loads(text) if text else None
        except ValueError:
            return resp.status, {"error": text[:200]}

    def register_bench_client(self):
        """Registers the client the issue, revoke, mixed and password-grant runs use and the
        user of the password grants; returns (client_id, secret, username, password)."""
        status, client = self.admin("POST", "/admin/clients", {
            "client_id": BENCH_CLIENT_ID, "name": "bench/run",
            "grant_types": ["client_credentials", "password"], "scope": BENCH_SCOPE,
            "audiences": [AUDIENCE]})
        if status != 201 or not (client or {}).get("client_secret"):
            raise Fatal(f"POST /admin/clients answered {status}: {client}")
        password = secrets.token_urlsafe(18)
        status, user = self.admin("POST", "/admin/users", {
            "username": BENCH_USER, "password": password, "scope": BENCH_SCOPE})
        if status != 201:
            raise Fatal(f"POST /admin/users answered {status}: {user}")
        return client["client_id"], client["client_secret"], BENCH_USER, password

    def argon2_parameters(self):
        """The argon2id parameters ringward runs with (`config check --print`), falling back to
        the documented defaults bench/run leaves in place."""
        params = dict(ARGON2_DEFAULTS)
        try:
            out = subprocess.run([self.exe, "config", "check", self.config, "--print"],
                                 capture_output=True, text=True, timeout=30)
            text = out.stdout if out.returncode == 0 else ""
        except (OSError, subprocess.TimeoutExpired):
            text = ""
        section = re.search(r"^\[issuance\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
        for key in list(params):
            m = section and re.search(rf"^{key}\s*=\s*(\d+)", section.group(1), re.M)
            if m:
                params[key] = int(m.group(1))
        return params


def http_status(host, port, method, path, body=None, tls=False, timeout=5):
    """The status of one request, or None when nothing answered."""
    try:
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        conn.request(method, path, body=body, headers=headers)
        status = conn.getresponse().status
        conn.close()
        return status
    except (OSError, http.client.HTTPException):
        return None


def make_keys(exe, workdir):
    keys = []
    for alg, kid in (("HS256", "hs-1"), ("EdDSA", "ed-1")):
        out = run_checked([exe, "keygen", "--alg", alg, "--kid", kid], f"ringward keygen {alg}", 60)
        keys += json.loads(out)["keys"]
    path = os.path.join(workdir, "keys.json")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"keys": keys}, f)
    return path


def make_certificate(workdir):
    cert = os.path.join(workdir, "cert.pem")
    key = os.path.join(workdir, "key.pem")
    run_checked(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                 "-days", "2", "-subj", "/CN=localhost", "-addext",
                 "subjectAltName=DNS:localhost,IP:127.0.0.1"], "openssl req", 60)
    return cert, key


# ---------------------------------------------------------------------------------------------
# Peers (../shared/peers)
# ---------------------------------------------------------------------------------------------
def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except (OSError, TypeError):
        return False


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def peers_state(out):
    pids = {n: read_pid(os.path.join(out, f"{n}.pid"))
            for n in ("nginx", "go-plain", "go-tls", "uring-min")}
    alive = all(pid_alive(p) for p in pids.values()) and all(
        port_open(p) for p in PEER_PORTS.values())
    return pids, alive


def start_peers(args, cleanup, results_dir):
    """Starts (or reuses) the peers; returns (targets by name, description) or raises Fatal."""
    start = os.path.join(args.peers_dir, "start")
    stop = os.path.join(args.peers_dir, "stop")
    if not os.access(start, os.X_OK):
        raise Fatal(f"--peers: no {start} (use --peers-dir)")
    out = os.environ.get("PEERS_OUT", "/tmp/ringward-peers")
    pids, alive = peers_state(out)
    info = {"dir": args.peers_dir, "tokens_dir": out}
    if alive:
        info["started_by_bench_run"] = False
        info["note"] = "They were already running: bench/run used them and left them running."
        log("peers already running: using them")
    else:
        log(f"starting the peers ({start}); the first start installs and builds them")
        env = dict(os.environ, PEERS_OUT=out)
        cleanup.add("peers", lambda: subprocess.run([stop], env=env, timeout=60,
                                                    capture_output=True))
        text = run_checked([start], "peers start", 1800, env=env)
        with open(os.path.join(results_dir, "peers-start.log"), "w") as f:
            f.write(text)
        info["started_by_bench_run"] = True
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            pids, alive = peers_state(out)
            if alive:
                break
            time.sleep(0.2)
        if not alive:
            raise Fatal("the peers did not come up (ports 18080, 18443, 18081, 18444, 18090)")
    workers = children(pids["nginx"]) or [pids["nginx"]]
    hs = os.path.join(out, "hs256.txt")
    ed = os.path.join(out, "eddsa.txt")
    t = {
        "nginx_static_plain": dict(name="nginx", url="http://127.0.0.1:18080/static", pids=workers),
        "nginx_static_tls": dict(name="nginx", url="https://127.0.0.1:18443/static", pids=workers),
        "uring_static_plain": dict(name="bare io_uring", url="http://127.0.0.1:18090/",
                                   pids=[pids["uring-min"]]),
        "njs_hs256_plain": dict(name="nginx+njs", url="http://127.0.0.1:18080/verify",
                                pids=workers, tokens=hs),
        "njs_hs256_tls": dict(name="nginx+njs", url="https://127.0.0.1:18443/verify",
                              pids=workers, tokens=hs),
    }
    for alg, f in (("hs256", hs), ("eddsa", ed)):
        t[f"go_{alg}_plain"] = dict(name="Go golang-jwt", url="http://127.0.0.1:18081/verify",
                                    pids=[pids["go-plain"]], tokens=f)
        t[f"go_{alg}_tls"] = dict(name="Go golang-jwt", url="https://127.0.0.1:18444/verify",
                                  pids=[pids["go-tls"]], tokens=f)
    return t, info


# ---------------------------------------------------------------------------------------------
# The plan: workloads and their targets
# ---------------------------------------------------------------------------------------------
def target(name, url, pids, args, kind, metrics=None):
    return {"name": name, "url": url, "pids": [p for p in pids if p], "args": args, "kind": kind,
            "metrics": metrics, "runs": []}


def peer_target(p):
    args = ["--tokens", p["tokens"]] if p.get("tokens") else []
    return target(p["name"], p["url"], p["pids"], args, "peer")


def build_plan(args, rw, nocache, keys, peers, issuance):
    plain = f"http://127.0.0.1:{rw.plain_port}/"
    tls = f"https://127.0.0.1:{rw.tls_port}/"
    rw_pid = [rw.proc.pid]
    urls = {"plain": plain, "tls": tls}
    label = {"plain": "plain HTTP", "tls": "TLS"}
    mint = ["--keys", keys, "--issuer", ISSUER, "--audience", AUDIENCE]
    kid = {"HS256": "hs-1", "EdDSA": "ed-1"}
    plan = []

    for scheme in ("plain", "tls"):
        w = {"id": f"static-{scheme}", "family": "static", "scheme": scheme, "alg": None,
             "kind": "closed", "workload": "static",
             "title": f"HTTP alone: a static 200 over {label[scheme]}",
             "description": "GET with no token: what an HTTP answer costs each server. ringward "
                            "answers GET /healthz.",
             "targets": [target("ringward", urls[scheme] + "healthz", rw_pid, [], "ringward")]}
        if peers:
            w["targets"].append(peer_target(peers[f"nginx_static_{scheme}"]))
            if scheme == "plain":
                w["targets"].append(peer_target(peers["uring_static_plain"]))
        plan.append(w)

    for scheme in ("plain", "tls"):
        for alg in ("HS256", "EdDSA"):
            w = {"id": f"verify-{scheme}-{alg.lower()}-pool1000", "family": f"verify {alg}",
                 "scheme": scheme, "alg": alg, "kind": "closed", "workload": "verify",
                 "title": f"verify {alg} over {label[scheme]}, 1000-token pool",
                 "description": "GET /v1/verify with Authorization: Bearer, rotating 1000 valid "
                                "tokens: after the first sight of each token ringward answers "
                                "from its verified-token cache (the hit rate is measured from "
                                "its /metrics). Peers verify every token in full (they have no "
                                "cache) and use their own 1000 tokens of the same claims shape.",
                 "targets": [target("ringward", urls[scheme], rw_pid,
                                    mint + ["--kid", kid[alg], "--pool", "1000"], "ringward",
                                    metrics=rw)]}
            if peers:
                if alg == "HS256":
                    w["targets"].append(peer_target(peers[f"njs_hs256_{scheme}"]))
                w["targets"].append(peer_target(peers[f"go_{alg.lower()}_{scheme}"]))
            plan.append(w)

    for scheme in ("plain", "tls"):
        for alg in ("HS256", "EdDSA"):
            plan.append({
                "id": f"verify-{scheme}-{alg.lower()}-pool{args.large_pool}", "family": None,
                "scheme": scheme, "alg": alg, "kind": "closed", "workload": "verify",
                "title": f"verify {alg} over {label[scheme]}, {args.large_pool}-token pool, "
                         "5% bad signatures, 5% expired",
                "description": f"{args.large_pool} distinct tokens, more than the cache holds "
                               "(16384 entries per shard), so most requests verify the "
                               "signature in full; 10% must be answered 401.",
                "targets": [target("ringward", urls[scheme], rw_pid,
                                   mint + ["--kid", kid[alg], "--pool", str(args.large_pool),
                                           "--invalid-share", "0.05", "--expired-share", "0.05"],
                                   "ringward", metrics=rw)]})

    bulk_conns = min(args.connections, 16)
    plan.append({
        "id": "bulk-plain-hs256-cacheoff", "family": None, "scheme": "plain", "alg": "HS256",
        "kind": "bulk", "workload": "bulk", "connections": bulk_conns,
        "title": "bulk verify: POST /v1/verify, 1000 HS256 tokens per request, cache off",
        "description": "A second ringward instance with cache_entries = 0, so every token is "
                       f"verified in full; {bulk_conns} connections, a pool of 10000 tokens.",
        "targets": [target("ringward (cache off)", f"http://127.0.0.1:{nocache.plain_port}/",
                           [nocache.proc.pid],
                           mint + ["--kid", "hs-1", "--pool", "10000", "--batch", "1000"],
                           "ringward", metrics=nocache)]})

    open_w = {
        "id": "open-loop-tls-eddsa", "family": None, "scheme": "tls", "alg": "EdDSA",
        "kind": "open", "workload": "verify", "rate": args.open_rate,
        "rate_from": "verify-tls-eddsa-pool1000",
        "title": "open loop: verify EdDSA over TLS at a fixed rate",
        "description": "Requests sent at fixed intended times whatever the server does "
                       "(coordinated omission corrected): latency counts from the intended send "
                       "time. The rate is a third of the closed-loop throughput ringward reached "
                       "on the same workload in the first round, unless --open-rate sets it. "
                       "The first second includes opening the connections (TLS handshakes); "
                       "'worst second after the first' leaves that out.",
        "targets": [target("ringward", tls, rw_pid, mint + ["--kid", "ed-1", "--pool", "1000"],
                           "ringward", metrics=rw)]}
    if peers:
        t = peer_target(peers["nginx_static_tls"])
        t["name"] = "nginx (static 200)"
        t["workload"] = "static"
        open_w["targets"].append(t)
    plan.append(open_w)

    if issuance:
        cid, secret = issuance["client"]
        creds = ["--client-id", cid, "--client-secret", secret]
        who = (f"the client given by --client ({cid})" if issuance["client_from"] == "--client"
               else f"the client bench/run registered through the admin API ({cid}, "
                    f"client_secret_basic, scope \"{BENCH_SCOPE}\")")
        alg = issuance.get("signing_alg", "EdDSA")
        plan.append({
            "id": "issue-tls", "family": None, "scheme": "tls", "alg": alg,
            "kind": "closed", "workload": "issue",
            "title": "issue over TLS: client_credentials grants",
            "description": "ringward-load -w issue: POST /oauth2/token, grant_type="
                           f"client_credentials, scope \"{BENCH_SCOPE}\", HTTP Basic, keep-alive, "
                           f"with {who}. Every answer is a fresh {alg}-signed RFC 9068 access "
                           "token from ringward's own issuance keys.",
            "targets": [target("ringward", tls, rw_pid, mint + ["--kid", "ed-1"] + creds,
                               "ringward")]})
        plan.append({
            "id": "revoke-tls", "family": None, "scheme": "tls", "alg": None,
            "kind": "closed", "workload": "revoke", "title": "revoke over TLS (RFC 7009)",
            "description": "ringward-load -w revoke: POST /oauth2/revoke with client "
                           f"authentication ({who}); the tokens are unknown ones, answered 200 "
                           "as RFC 7009 says.",
            "targets": [target("ringward", tls, rw_pid, mint + ["--kid", "ed-1"] + creds,
                               "ringward")]})
        plan.append({
            "id": "mixed-tls", "family": None, "scheme": "tls", "alg": "EdDSA",
            "kind": "closed", "workload": "mixed",
            "title": "mixed over TLS: verify 98%, issue 1%, revoke 1%",
            "description": f"ringward-load -w mixed, issue and revoke with {who}.",
            "targets": [target("ringward", tls, rw_pid, mint + ["--kid", "ed-1"] + creds,
                               "ringward", metrics=rw)]})
        a = issuance["argon2"]
        plan.append({
            "id": "password-tls", "family": None, "scheme": "tls", "alg": alg,
            "kind": "password", "workload": "password",
            "connections": args.password_connections, "argon2": a,
            "title": f"password grants over TLS (argon2id m={a['argon2_memory_kib']} KiB, "
                     f"t={a['argon2_iterations']}, p={a['argon2_parallelism']})",
            "description": f"{args.password_connections} keep-alive TLS connections (Python "
                           "http.client, one thread each, opened before the clock starts) send "
                           "POST /oauth2/token, grant_type=password, for one user, with "
                           f"{who}. Each grant hashes the password with argon2id at ringward's "
                           f"default parameters (memory {a['argon2_memory_kib']} KiB, "
                           f"{a['argon2_iterations']} iterations, {a['argon2_parallelism']} "
                           f"lane) on one of its {a['password_workers']} password worker "
                           "threads, off the shards. Server CPU is utime+stime of the whole "
                           "process from /proc over the run, divided by the answers.",
            "targets": [target("ringward", tls + "oauth2/token", rw_pid, [], "ringward")]})

    for c in args.compare:
        scheme = "tls" if c["url"].startswith("https:") else "plain"
        if c["tokens"]:
            wid = f"verify-{scheme}-{c['alg'].lower()}-pool1000"
            t = target(c["name"], c["url"], c["pids"], ["--tokens", c["tokens"]], "compare")
        else:
            wid = f"static-{scheme}"
            t = target(c["name"], c["url"], c["pids"], [], "compare")
        existing = [w for w in plan if w["id"] == wid]
        if existing:
            existing[0]["targets"].append(t)
        else:
            plan.append({"id": wid, "family": f"verify {c['alg']}", "scheme": scheme,
                         "alg": c["alg"], "kind": "closed", "workload": "verify",
                         "title": f"verify {c['alg']} over {label[scheme]} (--compare)",
                         "description": "Targets given with --compare whose tokens use an "
                                        "algorithm ringward's runs do not.",
                         "targets": [t]})
    return plan


# ---------------------------------------------------------------------------------------------
# Issuance: the benchmark client and user, and the password-grant run
# ---------------------------------------------------------------------------------------------
def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the self-signed certificate bench/run made
    return ctx


def basic_auth(client_id, secret):
    """client_secret_basic (RFC 6749 §2.3.1: form-urlencoded before base64)."""
    raw = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


def token_headers(client):
    return {"Authorization": basic_auth(*client),
            "Content-Type": "application/x-www-form-urlencoded"}


def password_body(user, password):
    return urllib.parse.urlencode({"grant_type": "password", "username": user,
                                   "password": password, "scope": BENCH_SCOPE})


def https_request(port, method, path, body=None, headers=None, timeout=10):
    """(status, body text) of one request over TLS; raises Fatal when nothing answered."""
    try:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout,
                                           context=tls_context())
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        conn.close()
    except (OSError, http.client.HTTPException) as e:
        raise Fatal(f"{method} {path}: {e}") from None
    return resp.status, text


def check_grant(rw, client, body, what):
    """One grant, and its access token presented to GET /v1/verify: both must succeed."""
    status, text = https_request(rw.tls_port, "POST", "/oauth2/token", body, token_headers(client))
    try:
        token = json.loads(text).get("access_token") if status == 200 else None
    except ValueError:
        token = None
    if not token:
        raise Fatal(f"a {what} grant was answered {status}: {text[:300]}")
    status, text = https_request(rw.tls_port, "GET", "/v1/verify",
                                 headers={"Authorization": f"Bearer {token}"})
    if status != 200:
        raise Fatal(f"GET /v1/verify answered {status} to a token of the {what} grant: "
                    f"{text[:300]}")


def set_up_issuance(args, rw):
    """Registers the benchmark client and user through the admin API and checks that one
    client_credentials and one password grant give tokens ringward verifies; returns what the
    issuance runs need."""
    cid, secret, user, password = rw.register_bench_client()
    bench_client = (cid, secret)
    client, client_from = bench_client, "admin API"
    if args.client:
        client, client_from = tuple(args.client.split(":", 1)), "--client"
    check_grant(rw, client, f"grant_type=client_credentials&scope="
                            f"{urllib.parse.quote(BENCH_SCOPE)}", "client_credentials")
    check_grant(rw, bench_client, password_body(user, password), "password")
    return {"issuer": ISSUER, "audiences": [AUDIENCE], "signing_alg": "EdDSA",
            "scope": BENCH_SCOPE, "client": client, "client_from": client_from,
            "bench_client": bench_client, "user": (user, password),
            "argon2": rw.argon2_parameters()}


def issuance_info(issuance):
    """What summary.json says about issuance: no secrets."""
    if not issuance:
        return None
    info = {k: v for k, v in issuance.items() if k not in ("client", "bench_client", "user")}
    info["client_id"] = issuance["client"][0]
    info["user"] = issuance["user"][0]
    return info


def process_cpu_s(pid):
    """utime + stime of every thread of |pid| in seconds (as ringward-load's --server-pid)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def percentile(sorted_values, q):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-q * len(sorted_values) // 1)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def password_connection(port, headers, body, start, deadline, out):
    """One keep-alive connection sending password grants from |start| (a Barrier) until
    |deadline|; appends (latencies in µs, statuses, errors) to |out|."""
    lat, statuses, errors = [], {}, 0
    conn = None
    try:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=tls_context())
        conn.connect()  # the TLS handshake happens before the clock starts
    except OSError:
        conn, errors = None, errors + 1
    try:
        start.wait(timeout=30)
    except threading.BrokenBarrierError:
        pass
    while time.monotonic() < deadline[0]:
        t0 = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10,
                                                   context=tls_context())
            conn.request("POST", "/oauth2/token", body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            if conn is not None:
                conn.close()
            conn = None
            continue
        lat.append((time.perf_counter() - t0) * 1e6)
        statuses[resp.status] = statuses.get(resp.status, 0) + 1
        if resp.status != 200 or b'"access_token"' not in data:
            errors += 1
        if resp.will_close:
            conn.close()
            conn = None
    if conn is not None:
        conn.close()
    out.append((lat, statuses, errors))


def run_password(args, w, t, rep, runs_dir, rw, issuance):
    """The password-grant run: args.password_connections Python threads, one keep-alive TLS
    connection each, for args.duration seconds. Same result keys as run_load()."""
    conns = w["connections"]
    base = os.path.join(runs_dir, w["id"], f"{slug(t['name'])}-r{rep}")
    os.makedirs(os.path.dirname(base), exist_ok=True)
    headers = token_headers(issuance["bench_client"])
    body = password_body(*issuance["user"])
    if not t.get("command"):
        t["command"] = (f"# bench/report/bench_run.py run_password: {conns} threads x "
                        f"POST {t['url']} grant_type=password (keep-alive TLS), "
                        f"{args.duration:g} s")
    start = threading.Barrier(conns + 1)
    deadline = [time.monotonic() + 3600]  # set once every connection is open
    out = []
    threads = [threading.Thread(target=password_connection,
                                args=(rw.tls_port, headers, body, start, deadline, out),
                                daemon=True) for _ in range(conns)]
    for th in threads:
        th.start()
    try:
        start.wait(timeout=30)
    except threading.BrokenBarrierError:
        pass
    server0 = process_cpu_s(rw.proc.pid)
    cpu0 = machine.CpuSample()
    client0 = time.process_time()
    t0 = time.monotonic()
    deadline[0] = t0 + args.duration
    for th in threads:
        th.join(timeout=args.duration + 60)
    elapsed = time.monotonic() - t0
    client_s = time.process_time() - client0
    cpu1 = machine.CpuSample()
    server1 = process_cpu_s(rw.proc.pid)
    run = {"rep": rep, "exit": 0, "json": os.path.relpath(base + ".json", args.out),
           "svg": None}
    if len(out) != conns or any(th.is_alive() for th in threads):
        run["failed"] = "a password-grant connection did not finish"
        log(f"  {w['id']} / {t['name']} run {rep}: FAILED: {run['failed']}")
        return run
    lat = sorted(x for o in out for x in o[0])
    statuses = {}
    for o in out:
        for code, n in o[1].items():
            statuses[str(code)] = statuses.get(str(code), 0) + n
    errors = sum(o[2] for o in out)
    answers = len(lat)
    server_s = None if server0 is None or server1 is None else server1 - server0
    run.update({
        "throughput_rps": answers / elapsed if elapsed > 0 else 0.0,
        "requests": answers,
        "p50_us": percentile(lat, 0.50), "p90_us": percentile(lat, 0.90),
        "p99_us": percentile(lat, 0.99), "p99_9_us": percentile(lat, 0.999),
        "max_us": lat[-1] if lat else None,
        "server_cpu_us": server_s * 1e6 / answers if answers and server_s is not None else None,
        "client_cpu_us": client_s * 1e6 / answers if answers else None,
        "errors": errors, "bad_accepted": 0, "status": statuses,
    })
    if not answers:
        run["failed"] = f"no password grant was answered ({errors} errors)"
        log(f"  {w['id']} / {t['name']} run {rep}: FAILED: {run['failed']}")
    hz = machine.CpuSample.ticks_per_second()
    wall = max(cpu1.time - cpu0.time, 1e-6)
    cpus = os.cpu_count() or 1
    busy_s = (cpu1.busy - cpu0.busy) / hz
    run["background_cpu_share"] = max(0.0, busy_s - client_s - (server_s or 0.0)) / (cpus * wall)
    run["steal_share"] = (cpu1.steal - cpu0.steal) / hz / (cpus * wall)
    with open(base + ".json", "w") as f:
        json.dump({"config": {"url": t["url"], "grant": "password", "connections": conns,
                              "duration_s": args.duration, "argon2": w.get("argon2")},
                   "result": {k: run.get(k) for k in (
                       "requests", "throughput_rps", "errors", "server_cpu_us",
                       "client_cpu_us")} | {"elapsed_s": elapsed, "server_cpu_s": server_s},
                   "latency_us": {"p50": run.get("p50_us"), "p90": run.get("p90_us"),
                                  "p99": run.get("p99_us"), "p99_9": run.get("p99_9_us"),
                                  "max": run.get("max_us")},
                   "status": statuses}, f, indent=1)
    return run


# ---------------------------------------------------------------------------------------------
# One load run
# ---------------------------------------------------------------------------------------------
def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def children_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_load(args, load_exe, w, t, rep, runs_dir, warmup=False):
    duration = 1.0 if warmup else args.duration
    conns = w.get("connections", args.connections)
    base = os.path.join(runs_dir, w["id"], f"{slug(t['name'])}-r{rep}")
    os.makedirs(os.path.dirname(base), exist_ok=True)
    jpath, spath = base + ".json", base + ".svg"
    cmd = [load_exe, "-w", t.get("workload") or w["workload"], "-c", str(conns), "-t", str(args.threads),
           "-d", f"{int(round(duration * 1000))}ms", *t["args"]]
    if w["kind"] == "open":
        cmd += ["-R", str(int(w["rate"]))]
    if t["pids"]:
        cmd += ["--server-pid", ",".join(str(p) for p in t["pids"])]
    cmd += ["--json", jpath, "--svg", spath, "-q", t["url"]]
    if not warmup and not t.get("command"):
        t["command"] = cmd
    before_cache = t["metrics"].metrics() if t.get("metrics") else None
    cpu0 = machine.CpuSample()
    child0 = children_cpu_s()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=duration + 180, preexec_fn=_die_with_parent)
        code, stderr = out.returncode, out.stderr
    except subprocess.TimeoutExpired:
        code, stderr = None, "timed out"
    cpu1 = machine.CpuSample()
    child = children_cpu_s() - child0
    after_cache = t["metrics"].metrics() if t.get("metrics") else None
    if warmup:
        for p in (jpath, spath):
            if os.path.exists(p):
                os.remove(p)
        return None
    run = {"rep": rep, "exit": code, "json": os.path.relpath(jpath, args.out),
           "svg": os.path.relpath(spath, args.out) if os.path.exists(spath) else None}
    if code != 0 or not os.path.exists(jpath):
        run["failed"] = (stderr or "").strip()[-500:] or f"exit {code}"
        log(f"  {w['id']} / {t['name']} run {rep}: FAILED: {run['failed']}")
        return run
    with open(jpath) as f:
        d = json.load(f)
    res, lat, err, ver = d["result"], d["latency_us"], d["errors"], d.get("verify") or {}
    run.update({
        "throughput_rps": res["throughput_rps"],
        "requests": res["requests"],
        "p50_us": lat["p50"], "p90_us": lat["p90"], "p99_us": lat["p99"],
        "p99_9_us": lat["p99_9"], "max_us": lat["max"],
        "server_cpu_us": (d.get("server_cpu") or {}).get("us_per_request"),
        "client_cpu_us": (d.get("client_cpu") or {}).get("us_per_request"),
        "errors": err["request_errors"] + err["connect"] + err["tls"]
                  + ver.get("bad_accepted", 0) + ver.get("valid_rejected", 0),
        "bad_accepted": ver.get("bad_accepted", 0),
        "file_tokens_rejected": ver.get("unknown_rejected", 0),
        "status": d.get("status", {}),
        "first_second_max_us": (d.get("per_second") or [{}])[0].get("max_latency_us"),
        "steady_max_us": steady_max(d),
        "bytes_out_per_request": res["bytes_out"] / res["requests"] if res["requests"] else None,
    })
    if w["kind"] == "bulk":
        batch = d["config"].get("batch") or 1
        run["bulk_tokens_per_s"] = res["bulk_tokens_per_s"]
        if run["server_cpu_us"] is not None:
            run["server_cpu_us_per_token"] = run["server_cpu_us"] / batch
    if w["kind"] == "open":
        run["target_rps"] = d["config"]["rate"]
        run["sent_rps"] = res["sent_rps"]
        run["service_p99_us"] = d.get("service_time_us", {}).get("p99")
        run["send_lag_p99_us"] = d.get("send_lag_us", {}).get("p99")
    if before_cache and after_cache:
        hits = after_cache[0] - before_cache[0]
        misses = after_cache[1] - before_cache[1]
        if hits + misses > 0:
            run["cache_hit_ratio"] = hits / (hits + misses)
    # How much of the machine something other than this client and this server used: the
    # noise floor of the run. Machine-wide busy ticks minus the client's (its whole life,
    # token minting included) and the server's (over its run window).
    hz = machine.CpuSample.ticks_per_second()
    wall = max(cpu1.time - cpu0.time, 1e-6)
    cpus = os.cpu_count() or 1
    busy_s = (cpu1.busy - cpu0.busy) / hz
    server_s = (d.get("server_cpu") or {}).get("cpu_s") or 0.0
    run["background_cpu_share"] = max(0.0, busy_s - child - server_s) / (cpus * wall)
    run["steal_share"] = (cpu1.steal - cpu0.steal) / hz / (cpus * wall)
    return run


def steady_max(d):
    """The slowest answer of any full second after the first (connection set-up) one."""
    window = d["result"].get("window_s") or 0
    values = [p["max_latency_us"] for p in d.get("per_second", [])
              if 1 <= p["t"] < window and p.get("requests")]
    return max(values) if values else None


METRICS = ("throughput_rps", "p50_us", "p90_us", "p99_us", "p99_9_us", "max_us", "server_cpu_us",
           "client_cpu_us", "errors", "bad_accepted", "bulk_tokens_per_s",
           "server_cpu_us_per_token", "target_rps", "sent_rps", "service_p99_us",
           "send_lag_p99_us", "cache_hit_ratio", "file_tokens_rejected", "first_second_max_us",
           "steady_max_us", "background_cpu_share", "steal_share",
           "bytes_out_per_request")


def summarize(t):
    ok = [r for r in t["runs"] if "failed" not in r]
    t["failed_runs"] = len(t["runs"]) - len(ok)
    t["median"], t["min"], t["max"] = {}, {}, {}
    for m in METRICS:
        values = [r[m] for r in ok if r.get(m) is not None]
        if values:
            t["median"][m] = statistics.median(values)
            t["min"][m] = min(values)
            t["max"][m] = max(values)
    t["errors_total"] = sum(r.get("errors", 0) for r in ok)
    if ok:
        # The run whose throughput is the median one stands for the target in the report.
        ranked = sorted(ok, key=lambda r: r["throughput_rps"])
        t["median_run"] = ranked[(len(ranked) - 1) // 2]


# ---------------------------------------------------------------------------------------------
# Micro-benchmarks (Google Benchmark)
# ---------------------------------------------------------------------------------------------
UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def run_micro(args, targets, results_dir, notes):
    suites = []
    names = micro_suite_names(targets)
    env = dict(os.environ)
    scratch = os.path.join(results_dir, "micro-scratch")
    os.makedirs(scratch, exist_ok=True)
    env["RINGWARD_BENCH_DIR"] = scratch  # the WAL suite needs a real filesystem, not tmpfs
    for name in names:
        exe = targets[name][0]
        if args.quick and name != "token_bench":
            notes.append(f"micro suite {name} skipped in --quick")
            continue
        if not os.access(exe, os.X_OK):
            notes.append(f"micro suite {name} is not built; skipped")
            continue
        cmd = [exe, f"--benchmark_repetitions={args.micro_repetitions}",
               "--benchmark_report_aggregates_only=true", "--benchmark_format=json"]
        if args.quick:
            cmd.append("--benchmark_min_time=0.01")
            if name == "token_bench":
                # Its 10000-token cache case spends ~8 s minting before it measures anything.
                cmd.append("--benchmark_filter=-CacheHit/10000$")
                notes.append("--quick: BM_Verify_CacheHit/10000 skipped (slow set-up)")
        log(f"micro suite {name} ({args.micro_repetitions} repetitions)")
        path = os.path.join(results_dir, "micro", f"{name}.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, env=env)
        except subprocess.TimeoutExpired:
            notes.append(f"micro suite {name} took more than an hour; skipped")
            continue
        if out.returncode != 0:
            notes.append(f"micro suite {name} failed (exit {out.returncode}): "
                         + out.stderr.strip()[-300:])
            continue
        with open(path, "w") as f:
            f.write(out.stdout)
        try:
            data = json.loads(out.stdout)
        except ValueError:
            notes.append(f"micro suite {name} printed no JSON; skipped")
            continue
        suites.append({"name": name, "command": display_cmd(cmd),
                       "json": os.path.relpath(path, args.out),
                       "benchmarks": micro_medians(data)})
    shutil.rmtree(scratch, ignore_errors=True)
    return {"suites": suites, "ratios": render.micro_ratios(suites)}


def micro_medians(data):
    """Median rows (or the single run when there was one repetition), with the cv if known."""
    rows, cv = {}, {}
    for b in data.get("benchmarks", []):
        name = b.get("run_name", b["name"])
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                rows[name] = b
            elif b.get("aggregate_name") == "cv":
                cv[name] = b.get("real_time")
        elif b.get("run_type", "iteration") == "iteration" and name not in rows:
            rows[name] = b
    out = []
    for name, b in rows.items():
        scale = UNIT_NS.get(b.get("time_unit", "ns"), 1.0)
        entry = {"name": name, "real_ns": b["real_time"] * scale, "cpu_ns": b["cpu_time"] * scale,
                 "items_per_second": b.get("items_per_second"),
                 "bytes_per_second": b.get("bytes_per_second"), "cv": cv.get(name)}
        extra = {k: v for k, v in b.items() if k not in (
            "name", "run_name", "run_type", "repetitions", "repetition_index", "threads",
            "iterations", "real_time", "cpu_time", "time_unit", "family_index",
            "per_family_instance_index", "aggregate_name", "aggregate_unit", "items_per_second",
            "bytes_per_second", "label")}
        if extra:
            entry["counters"] = extra
        out.append(entry)
    return out


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
# Paths shown shorter in the report: (prefix, replacement), longest first.
DISPLAY_SUBS = []
# Arguments shown as a placeholder (client secrets): {value: placeholder}.
DISPLAY_SECRETS = {}


def display_cmd(cmd):
    parts = []
    for c in cmd:
        c = str(c)
        if c in DISPLAY_SECRETS:
            parts.append(DISPLAY_SECRETS[c])
            continue
        for prefix, replacement in DISPLAY_SUBS:
            if c.startswith(prefix):
                # "$WORK/" stays unquoted so that the command reads as a shell command.
                c = replacement + shlex.quote(c[len(prefix):])
                break
        else:
            if c.startswith(ROOT + os.sep):
                c = os.path.relpath(c, ROOT)
            c = shlex.quote(c)
        parts.append(c)
    return " ".join(parts)


# The open-loop rate as a share of the closed-loop throughput. The client shares the cores and
# spends more CPU per request when it keeps a schedule, so half would leave a busy machine no
# headroom and measure the client falling behind instead of the server.
OPEN_LOOP_SHARE = 1 / 3


def open_rate(w, plan, args):
    if w.get("rate"):
        return w["rate"]
    src = [x for x in plan if x["id"] == w.get("rate_from")]
    values = []
    if src:
        for t in src[0]["targets"]:
            if t["kind"] == "ringward":
                values = [r["throughput_rps"] for r in t["runs"] if "throughput_rps" in r]
    rate = OPEN_LOOP_SHARE * statistics.median(values) if values else 5000.0
    w["rate"] = max(100, int(round(rate, -2)))
    w["rate_note"] = ("a third of ringward's closed-loop median on the same workload in the "
                      "first round" if values
                      else "fallback: no closed-loop result to derive it from")
    return w["rate"]


def wait_for_quiet(limit, max_wait_s=600, step_s=15):
    """Waits until the 1-minute load average is below |limit|; returns the seconds waited."""
    started = time.monotonic()
    while True:
        load = (machine.load_average() or [0.0])[0]
        waited = time.monotonic() - started
        if load < limit:
            return round(waited)
        if waited >= max_wait_s:
            log(f"load average still {load:.2f} after {max_wait_s // 60} min: going ahead")
            return round(waited)
        log(f"load average {load:.2f} >= {limit}: waiting")
        time.sleep(step_s)


def main(argv):
    args = parse_args(argv)
    cpus = os.cpu_count() or 1
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    args.out = os.path.abspath(args.out or os.path.join(ROOT, "results", stamp))
    os.makedirs(args.out, exist_ok=True)
    cleanup = Cleanup()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_exit)
    notes, skipped = [], []
    t_start = time.monotonic()
    load_at_start = machine.load_average()
    workdir = tempfile.mkdtemp(prefix="ringward-bench-")
    cleanup.add("temp dir", lambda: shutil.rmtree(workdir, ignore_errors=True))
    DISPLAY_SUBS[:] = [(args.out + os.sep, ""), (workdir + os.sep, "$WORK/")]
    try:
        if not args.no_build:
            build(args, notes)
        targets = meson_targets(args.build_dir)
        rw_exe = targets.get("ringward", (None,))[0]
        load_exe = targets.get("ringward-load", (None,))[0]
        for exe in (rw_exe, load_exe):
            if not exe or not os.access(exe, os.X_OK):
                raise Fatal(f"{exe or 'ringward/ringward-load'} is not built "
                            f"(build {args.build_dir} or drop --no-build)")
        facts = machine.describe(ROOT, args.out)
        facts["loadavg_before_build"] = load_at_start
        log(f"results in {args.out}")
        log(f"machine: {facts.get('cpu_model')}, {cpus} CPUs, load average "
            f"{facts.get('loadavg_start')}")
        if cpus < 2:
            notes.append("fewer than 2 CPUs: client and server share one core; figures are "
                         "only indicative")

        micro = {"suites": [], "ratios": []}
        if args.no_micro:
            skipped.append("micro-benchmarks: --no-micro")
        else:
            micro = run_micro(args, targets, args.out, notes)

        keys = make_keys(rw_exe, workdir)
        cert, key = make_certificate(workdir)
        rw = Ringward(rw_exe, workdir, "ringward", keys, cert, key, 16384, True, cleanup)
        nocache = Ringward(rw_exe, workdir, "ringward-cache-off", keys, cert, key, 0, False,
                           cleanup)
        rw.start()
        nocache.start()
        shutil.copy(rw.config, os.path.join(args.out, "ringward-bench.toml"))
        log(f"ringward pid {rw.proc.pid}: plain :{rw.plain_port}, TLS :{rw.tls_port}, "
            f"{rw.shards} shards; cache-off instance pid {nocache.proc.pid} :{nocache.plain_port}")

        issuance = None
        try:
            issuance = set_up_issuance(args, rw)
        except Fatal as e:
            skipped.append(f"issue, revoke, mixed and password grants: {e}")
        if issuance:
            DISPLAY_SECRETS[issuance["client"][1]] = "$CLIENT_SECRET"
            log(f"issuance: client {issuance['client'][0]} ({issuance['client_from']}), user "
                f"{BENCH_USER}, argon2id {issuance['argon2']}")

        peers, peers_info = None, None
        if args.peers:
            peers, peers_info = start_peers(args, cleanup, args.out)

        plan = build_plan(args, rw, nocache, keys, peers, issuance)
        if args.quiet_load:
            facts["quiet_wait_s"] = wait_for_quiet(args.quiet_load)
        facts["loadavg_start"] = machine.load_average()
        runs_dir = os.path.join(args.out, "runs")
        total = sum(len(w["targets"]) for w in plan) * args.repeat
        log(f"{len(plan)} workloads, {total} load runs of {args.duration:g} s "
            f"(about {total * (args.duration + 1.5) / 60:.0f} min)")
        if not args.quick:
            log("warm-up: 1 s per target (not recorded)")
            for w in plan:
                if w["id"].startswith("static") or w["id"].endswith("-pool1000"):
                    for t in w["targets"]:
                        run_load(args, load_exe, w, t, 0, runs_dir, warmup=True)
        done = 0
        for rep in range(1, args.repeat + 1):
            for w in plan:
                if w["kind"] == "open":
                    open_rate(w, plan, args)
                for t in w["targets"]:
                    done += 1
                    log(f"[{done}/{total}] round {rep}: {w['id']} / {t['name']}")
                    if w["kind"] == "password":
                        t["runs"].append(run_password(args, w, t, rep, runs_dir, rw, issuance))
                    else:
                        t["runs"].append(run_load(args, load_exe, w, t, rep, runs_dir))
                    time.sleep(0.25)
        for w in plan:
            for t in w["targets"]:
                summarize(t)

        facts["loadavg_end"] = machine.load_average()
        summary = {
            "tool": "bench/run", "format": 1,
            "command": shlex.join(["bench/run", *args.argv]),
            "elapsed_s": round(time.monotonic() - t_start, 1),
            "settings": {"quick": args.quick, "duration_s": args.duration,
                         "repeat": args.repeat, "connections": args.connections,
                         "threads": args.threads, "large_pool": args.large_pool,
                         "micro_repetitions": args.micro_repetitions,
                         "open_rate": args.open_rate},
            "machine": facts,
            "build": build_info(args.build_dir),
            "ringward": {"shards": rw.shards, "config": "ringward-bench.toml",
                         "cache_entries": 16384, "pid": rw.proc.pid,
                         "issuance": issuance_info(issuance)},
            "peers": peers_info,
            "workloads": [strip_plan(w) for w in plan],
            "micro": micro,
            "notes": notes,
            "skipped": skipped,
        }
        render.write_all(summary, args.out)
        log(f"wrote {os.path.join(args.out, 'report.md')}")
        return 0
    except Fatal as e:
        log(f"error: {e}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        cleanup.run()


def strip_plan(w):
    out = {k: v for k, v in w.items() if k != "targets"}
    out["targets"] = []
    for t in w["targets"]:
        tt = {k: v for k, v in t.items() if k not in ("metrics", "args")}
        if isinstance(t.get("command"), list):
            tt["command"] = display_cmd(t["command"])
        out["targets"].append(tt)
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
