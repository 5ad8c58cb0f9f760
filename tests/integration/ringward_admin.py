"""Helpers for the revocation integration tests: a RingwardServer with a data directory (the
revocation log), an admin listener and its token, restartable (also after SIGKILL), and raw
HTTP helpers that keep many requests in flight or pipeline many lookups.

Everything stays on 127.0.0.1 (ports picked by the kernel) and every wait is bounded.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import subprocess
import threading
import time

import ringward_cli as rw
import ringward_server as rs

# The public listeners' log lines, in the logfmt form (event=listening) and the older free-text
# one, and the admin listener's.
PUBLIC_LISTEN_RES = [
    re.compile(r"event=listening address=(\S+) tls=(yes|no)\b"),
    re.compile(r"listening on (\S+)( \(plain http\))? shards="),
]
ADMIN_LISTEN_RE = re.compile(r"event=admin_listening address=127\.0\.0\.1:(\d+)")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class AdminServer(rs.RingwardServer):
    """A ringward with data_dir, [admin] and [revocation] settings.

    revocation: extra [revocation] keys. hs256: also trust an HS256 key whose tokens mint_hs256
    makes in Python (fast enough for thousands of tokens).
    """

    def __init__(self, *, revocation=None, hs256=False, admin_extra=None, **kwargs):
        self.revocation = dict(revocation or {})
        self.admin_extra = dict(admin_extra or {})
        self.hs256 = hs256
        self.admin_port = None
        self.env = None  # extra environment for the next start()
        self.admin_token = secrets.token_urlsafe(32)
        super().__init__(**kwargs)
        self.data_dir = os.path.join(self.dir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.token_file = os.path.join(self.dir, "admin-token")
        with open(os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(self.admin_token + "\n")
        # A second signing key, so that revoking a kid does not take key-1's tokens with it.
        _, jwks1 = rw.keygen("EdDSA", "key-1", self.dir)
        _, jwks2 = rw.keygen("EdDSA", "key-2", self.dir)
        keys = jwks1["keys"] + jwks2["keys"]
        self.hs256_secret = None
        if hs256:
            _, jwks3 = rw.keygen("HS256", "hs-1", self.dir)
            keys += jwks3["keys"]
            k = jwks3["keys"][0]["k"]
            self.hs256_secret = base64.urlsafe_b64decode(k + "=" * (-len(k) % 4))
        self.keys = os.path.join(self.dir, "all-keys.json")
        with open(self.keys, "w") as f:
            json.dump({"keys": keys}, f)
        self.key1_only = os.path.join(self.dir, "key-1.json")
        self.key2_only = os.path.join(self.dir, "key-2.json")
        self.write_config()

    def write_config(self):
        if not hasattr(self, "data_dir"):
            return super().write_config()  # first call, from the base constructor
        super().write_config()
        with open(self.config_path) as f:
            text = f.read()
        lines = [f"data_dir = {json.dumps(self.data_dir)}", text, "[admin]",
                 'listen = ["127.0.0.1:0"]', f"token_file = {json.dumps(self.token_file)}"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in self.admin_extra.items()]
        lines.append("[revocation]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in self.revocation.items()]
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    # -- process -------------------------------------------------------------------------------
    def start(self, timeout=30):
        """Starts (or restarts) the server with a fresh log and learns its ports."""
        with self._log_lock:
            self.log = []
        self.https_port = self.http_port = self.admin_port = None
        env = None if self.env is None else dict(os.environ, **self.env)
        self.proc = subprocess.Popen([rw.BINARY, "serve", "--config", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        want_public = int(self.tls) + int(self.plain)
        while time.monotonic() < deadline:
            with self._log_lock:
                lines = list(self.log)
            public = []
            for line in lines:
                for regex in PUBLIC_LISTEN_RES:
                    m = regex.search(line)
                    if m:
                        public.append((m.group(1), m.group(2)))
                        break
            admin = [m for m in (ADMIN_LISTEN_RE.search(line) for line in lines) if m]
            if len(public) >= want_public and admin:
                break
            if self.proc.poll() is not None:
                raise AssertionError(f"ringward exited {self.proc.returncode}:\n" + self.log_text())
            time.sleep(0.02)
        else:
            raise AssertionError("ringward did not start:\n" + self.log_text())
        for address, kind in public:
            if address.startswith("unix:"):
                continue
            port = int(address.rsplit(":", 1)[1])
            if kind in ("no", " (plain http)"):
                self.http_port = port
            else:
                self.https_port = port
        self.admin_port = int(admin[0].group(1))
        self.wait_ready(deadline)
        return self

    def kill(self):
        """SIGKILL, then reap: a crash at an arbitrary moment."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        return self.stop()

    def admin_url(self, path):
        return f"http://127.0.0.1:{self.admin_port}{path}"

    def auth(self, token=None):
        return {"Authorization": f"Bearer {token or self.admin_token}"}

    def mint(self, claims=None, **kwargs):
        kwargs.setdefault("keys", self.key1_only)
        return super().mint(claims, **kwargs)

    def mint_key2(self, claims=None):
        full = {"iss": rs.ISSUER, "aud": rs.AUDIENCE, "sub": "alice", "client_id": "web",
                "scope": "read write"}
        full.update(claims or {})
        return rw.run("token", "mint", "--keys", self.key2_only, "--kid", "key-2", "--claims",
                      json.dumps(full), check=0).stdout.strip()

    def mint_hs256(self, jti, exp, sub="crash", client_id="crash-client"):
        """An RFC 9068 access token signed with the HS256 key, minted here."""
        now = int(time.time())
        header = {"alg": "HS256", "typ": "at+jwt", "kid": "hs-1"}
        claims = {"iss": rs.ISSUER, "aud": rs.AUDIENCE, "sub": sub, "client_id": client_id,
                  "iat": now - 5, "exp": exp, "jti": jti, "scope": "read"}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        signature = hmac.new(self.hs256_secret, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + b64url(signature)

    def wal_dir(self):
        return os.path.join(self.data_dir, "wal")


def http_exchange(port, request, timeout=10):
    """Sends one raw request (with Connection: close) and returns (status, body bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def pipelined_statuses(port, requests, timeout=30, window=256):
    """Sends |requests| (bytes each, keep-alive) on one connection, at most |window| in flight,
    and returns the status of each answer, in order."""
    statuses = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        sent = 0
        while len(statuses) < len(requests):
            if sent < len(requests) and sent - len(statuses) < window:
                batch = requests[sent:min(len(requests), len(statuses) + window)]
                sock.sendall(b"".join(batch))
                sent += len(batch)
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed after %d of %d answers" % (len(statuses),
                                                                         len(requests)))
            buf += chunk
            while True:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buf[:end]
                m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
                length = int(m.group(1)) if m else 0
                if len(buf) < end + 4 + length:
                    break
                statuses.append(int(head.split(b" ", 2)[1]))
                buf = buf[end + 4 + length:]
    return statuses
