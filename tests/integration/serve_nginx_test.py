#!/usr/bin/python3
"""ringward behind Debian's nginx as an auth_request verifier, over plain HTTP and over TLS.

nginx runs in the foreground as a child of this test, with its prefix, pid file, temp paths and
error log in a temp directory and its listener on a free loopback port; the protected upstream
is a tiny http.server in this process that echoes the X-Auth-Subject nginx forwarded.
"""
import http.server
import json
import os
import shutil
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

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"path": self.path,
                           "subject": self.headers.get("X-Auth-Subject")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NGINX_CONF = """
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {dir}/client_body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location /api/ {{
      auth_request /_auth;
      auth_request_set $sub $upstream_http_x_auth_subject;
      proxy_set_header X-Auth-Subject $sub;
      proxy_pass http://127.0.0.1:{upstream};
    }}
    location /tls/ {{
      auth_request /_auth_tls;
      auth_request_set $sub $upstream_http_x_auth_subject;
      proxy_set_header X-Auth-Subject $sub;
      proxy_pass http://127.0.0.1:{upstream};
    }}
    location = /_auth {{
      internal;
      proxy_pass http://127.0.0.1:{rw_http}/v1/verify;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
    location = /_auth_tls {{
      internal;
      proxy_pass https://127.0.0.1:{rw_https}/v1/verify;
      proxy_ssl_trusted_certificate {cert};
      proxy_ssl_verify on;
      proxy_ssl_name localhost;
      proxy_ssl_server_name on;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
    }}
  }}
}}
"""


@unittest.skipUnless(os.path.exists(NGINX), "nginx is not installed (tools/bootstrap installs it)")
class NginxAuthRequestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rw = rs.RingwardServer().start()
        cls.upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
        threading.Thread(target=cls.upstream.serve_forever, daemon=True).start()
        cls.dir = tempfile.TemporaryDirectory()
        cls.port = free_port()
        conf = os.path.join(cls.dir.name, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=cls.dir.name, port=cls.port,
                                      upstream=cls.upstream.server_address[1],
                                      rw_http=cls.rw.http_port, rw_https=cls.rw.https_port,
                                      cert=cls.rw.cert))
        cls.nginx = subprocess.Popen([NGINX, "-p", cls.dir.name, "-c", conf, "-e",
                                      os.path.join(cls.dir.name, "error.log")],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if cls.nginx.poll() is not None:
                raise AssertionError("nginx exited: " + cls.nginx.stderr.read().decode())
            try:
                socket.create_connection(("127.0.0.1", cls.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise AssertionError("nginx did not start")

    @classmethod
    def tearDownClass(cls):
        cls.nginx.send_signal(signal.SIGQUIT)
        try:
            cls.nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            cls.nginx.kill()
            cls.nginx.wait()
        cls.nginx.stderr.close()
        cls.upstream.shutdown()
        cls.upstream.server_close()
        cls.dir.cleanup()
        cls.rw.close()

    def fetch(self, path, token=None, method="GET"):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                         data=b"payload" if method == "POST" else None)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, None

    def test_valid_token_reaches_the_upstream_with_the_subject(self):
        token = self.rw.mint({"sub": "alice"})
        for prefix in ("/api/", "/tls/"):
            with self.subTest(prefix=prefix):
                status, body = self.fetch(prefix + "orders?id=7", token)
                self.assertEqual(status, 200)
                self.assertEqual(body, {"path": prefix + "orders?id=7", "subject": "alice"})
                status, body = self.fetch(prefix + "orders", token, method="POST")
                self.assertEqual((status, body["subject"]), (200, "alice"))

    def test_invalid_or_missing_token_is_401(self):
        token = self.rw.mint({"sub": "alice"})
        for prefix in ("/api/", "/tls/"):
            with self.subTest(prefix=prefix):
                self.assertEqual(self.fetch(prefix + "x", token[:-3] + "AAA")[0], 401)
                self.assertEqual(self.fetch(prefix + "x", "garbage")[0], 401)
                self.assertEqual(self.fetch(prefix + "x")[0], 401)

    def test_header_injection_does_not_reach_the_upstream(self):
        evil = self.rw.mint({"sub": "alice\r\nX-Evil: 1"})
        self.assertEqual(self.fetch("/api/x", evil)[0], 401)


if __name__ == "__main__":
    rw.main(globals())
