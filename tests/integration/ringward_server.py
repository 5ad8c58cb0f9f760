"""Helpers for the `ringward serve` integration tests: a throwaway server on 127.0.0.1.

RingwardServer writes a key set, a self-signed certificate and a config into a temp directory,
starts the real binary with `serve --config`, learns the ports it bound (port 0, from its
"event=listening" log lines) and waits for /readyz. Everything stays on loopback and every wait is
bounded.
"""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time

import ringward_cli as rw

ISSUER = "https://issuer.test"
AUDIENCE = "edge-api"
LISTEN_RE = re.compile(r"^<6>ringward: event=listening address=(\S+) tls=(yes|no) shards=(\d+)")


def make_certificate(directory):
    """Writes cert.pem/key.pem (P-256, for localhost and 127.0.0.1) with the openssl CLI."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


def toml_list(values):
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def free_port():
    """A loopback TCP port that was free a moment ago, for a listener whose URL must be known
    before the server starts (the [issuance] base_url). Another process could take it first."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def issuance_lines(issuance, trusted_issuers):
    """The [issuance] table (None: none) and its [[issuance.trusted_issuers]], as TOML lines."""
    if issuance is None:
        return []
    lines = ["", "[issuance]"] + [f"{k} = {json.dumps(v)}" for k, v in issuance.items()]
    for trusted in trusted_issuers:
        lines += ["", "[[issuance.trusted_issuers]]"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in trusted.items()]
    return lines


class RingwardServer:
    """One ringward process. Use as a context manager or call start()/stop()."""

    def __init__(self, *, tls=True, plain=True, unix=False, shards=2, server=None, tokens=None,
                 claim_headers=None, directory=None, listen=None, issuance=None,
                 trusted_issuers=None):
        self._own_dir = None
        if directory is None:
            self._own_dir = tempfile.TemporaryDirectory()
            directory = self._own_dir.name
        self.dir = directory
        self.keys, _ = rw.keygen("EdDSA", "key-1", self.dir)
        self.cert, self.key = make_certificate(self.dir)
        self.unix_path = os.path.join(self.dir, "rw.sock") if unix else None
        self.config_path = os.path.join(self.dir, "ringward.toml")
        self.tls = tls
        self.plain = plain
        self.shards = shards
        self.server_options = dict(server or {})
        self.token_options = dict(tokens or {})
        self.claim_headers = dict(claim_headers or {})
        # TLS listen addresses: a fixed port (free_port) lets [issuance] base_url name it.
        self.tls_listen = list(listen or ["127.0.0.1:0"])
        # [issuance] keys (None: no section) and its [[issuance.trusted_issuers]] tables.
        self.issuance_options = None if issuance is None else dict(issuance)
        self.trusted_issuer_options = [dict(t) for t in trusted_issuers or []]
        self.proc = None
        self.log = []
        self._log_lock = threading.Lock()
        self.https_port = None
        self.http_port = None
        self.write_config()

    # -- configuration -------------------------------------------------------------------------
    def write_config(self):
        plain = []
        if self.plain:
            plain.append("127.0.0.1:0")
        if self.unix_path:
            plain.append("unix:" + self.unix_path)
        server = {"header_timeout_ms": 5000, "idle_timeout_ms": 30000, "shutdown_grace_ms": 3000}
        server.update(self.server_options)
        tokens = {"cache_entries": 1024, "bulk_max_tokens": 100}
        tokens.update(self.token_options)
        lines = [
            "[server]",
            f"listen = {toml_list(self.tls_listen if self.tls else [])}",
            f"plain_listen = {toml_list(plain)}",
            f"shards = {self.shards}",
        ]
        lines += [f"{k} = {json.dumps(v)}" for k, v in server.items()]
        lines += ["", "[tls]", f"certificate = {json.dumps(self.cert)}",
                  f"private_key = {json.dumps(self.key)}", "", "[tokens]",
                  f"keys = {json.dumps(self.keys)}", f"issuers = {toml_list([ISSUER])}",
                  f"audiences = {toml_list([AUDIENCE])}"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in tokens.items()]
        lines.append("claim_headers = {" + ", ".join(
            f"{json.dumps(k)} = {json.dumps(v)}" for k, v in self.claim_headers.items()) + "}")
        lines += issuance_lines(self.issuance_options, self.trusted_issuer_options)
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    # -- process -------------------------------------------------------------------------------
    def start(self, timeout=15):
        self.proc = subprocess.Popen([rw.BINARY, "serve", "--config", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        want = int(self.tls) + int(self.plain) + int(bool(self.unix_path))
        while time.monotonic() < deadline:
            with self._log_lock:
                listening = [m for m in (LISTEN_RE.match(line) for line in self.log) if m]
            if len(listening) >= want:
                break
            if self.proc.poll() is not None:
                raise AssertionError(f"ringward exited {self.proc.returncode}:\n" + self.log_text())
            time.sleep(0.02)
        else:
            raise AssertionError("ringward did not start:\n" + self.log_text())
        for m in listening:
            addr = m.group(1)
            if addr.startswith("unix:"):
                continue
            port = int(addr.rsplit(":", 1)[1])
            if m.group(2) == "no":
                self.http_port = port
            else:
                self.https_port = port
        self.wait_ready(deadline)
        return self

    def _read_log(self):
        for line in self.proc.stderr:
            with self._log_lock:
                self.log.append(line.rstrip("\n"))

    def log_text(self):
        with self._log_lock:
            return "\n".join(self.log)

    def wait_log(self, pattern, timeout=10):
        """Waits for a log line matching |pattern| (a regex); returns the match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._log_lock:
                for line in self.log:
                    m = regex.search(line)
                    if m:
                        return m
            time.sleep(0.02)
        raise AssertionError(f"no log line matching {pattern!r}:\n" + self.log_text())

    def wait_ready(self, deadline):
        while time.monotonic() < deadline:
            try:
                status, _, _ = self.raw_request(b"GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise AssertionError("ringward never became ready:\n" + self.log_text())

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the server and returns its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                raise AssertionError("ringward did not stop in time:\n" + self.log_text())
        code = self.proc.returncode
        self._reader.join(timeout=5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code

    def close(self):
        try:
            self.stop()
        finally:
            if self._own_dir is not None:
                self._own_dir.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- clients -------------------------------------------------------------------------------
    def https_url(self, path):
        return f"https://127.0.0.1:{self.https_port}{path}"

    def http_url(self, path):
        return f"http://127.0.0.1:{self.http_port}{path}"

    def connect(self, timeout=5, rcvbuf=None):
        return HttpConn(self.http_port, timeout, rcvbuf)

    def raw_request(self, data, timeout=5):
        """Sends |data| on a fresh plain connection; returns (first status, headers, body)."""
        with self.connect(timeout) as c:
            c.send(data)
            return c.read_response()

    def mint(self, claims=None, **kwargs):
        """Mints an access token for this server's issuer (RFC 9068 claims filled in)."""
        full = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "client_id": "web",
                "scope": "read write"}
        full.update(claims or {})
        args = ["token", "mint", "--keys", kwargs.get("keys", self.keys), "--claims",
                json.dumps(full)]
        if "ttl" in kwargs:
            args += ["--ttl", str(kwargs["ttl"])]
        return rw.run(*args, check=0).stdout.strip()

    def metrics(self):
        _, _, body = self.raw_request(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        return body.decode()


def metric_value(text, series):
    """Returns the value of the exact series line |series| (name{labels}) in |text|, or None."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split(" ")[-1])
    return None


class HttpConn:
    """A plain HTTP/1.1 client connection that reads responses one by one (pipelining)."""

    def __init__(self, port, timeout=5, rcvbuf=None):
        if rcvbuf is None:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        else:
            # A small receive buffer (set before connect, so the window stays small) makes the
            # server's sends back up quickly: a slow reader.
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(timeout)
            self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed; unread: %r" % self.buf)
        self.buf += chunk

    def read_response(self, head_only=False):
        """Returns (status, headers as a list of (name, value), body) of the next response."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
        length = 0 if head_only else int(header(headers, "content-length") or 0)
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def read_until_close(self, timeout=5):
        """Returns every byte until the server closes; raises socket.timeout if it does not."""
        self.sock.settimeout(timeout)
        data, self.buf = self.buf, b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return data
            if not chunk:
                return data
            data += chunk

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def header(headers, name):
    """Returns the first value of header |name| (case-insensitive), or None."""
    values = [v for n, v in headers if n.lower() == name.lower()]
    return values[0] if values else None
