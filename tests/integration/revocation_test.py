#!/usr/bin/python3
"""Revocation end to end with the real binary: revoking by jti, subject, client and key id
through the admin API makes GET /v1/verify answer 401 — also for a token that every shard had
already verified and cached — while unrelated tokens still pass; the admin API's
authentication and its absence from the public listeners; `ringward revoke`; restarts keep
revocations; `ringward wal dump`; a torn tail is cut and reported; mid-log damage stops the start
with the segment and offset, and `ringward wal repair` brings it back."""
import json
import os
import re
import subprocess
import sys
import time
import unittest

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ringward_admin as ra  # noqa: E402
import ringward_cli as rw  # noqa: E402
import ringward_server as rs  # noqa: E402

VERIFY_ROUNDS = 8  # fresh connections per check: the kernel spreads them over both shards


class RevocationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ra.AdminServer(shards=2).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        log = cls.server.log_text()
        cls.server.close()
        assert code == 0, f"exit code {code}\n{log}"

    def setUp(self):
        self.s = self.server

    # -- helpers -------------------------------------------------------------------------------
    def verify_statuses(self, token):
        """GET /v1/verify on fresh connections (both shards, TLS and plain)."""
        statuses = set()
        for i in range(VERIFY_ROUNDS):
            url = self.s.https_url("/v1/verify") if i % 2 else self.s.http_url("/v1/verify")
            r = requests.get(url, headers={"Authorization": f"Bearer {token}"},
                             verify=self.s.cert, timeout=5)
            statuses.add(r.status_code)
        return statuses

    def revoke(self, body, token=None):
        return requests.post(self.s.admin_url("/admin/revocations"), json=body,
                             headers=self.s.auth(token), timeout=10)

    def metric(self, series):
        r = requests.get(self.s.admin_url("/metrics"), headers=self.s.auth(), timeout=5)
        self.assertEqual(r.status_code, 200)
        return rs.metric_value(r.text, series)

    def assert_revoked_and_others_pass(self, revoked, unrelated, body):
        # Verified before the revocation, many times: every shard has it in its cache.
        self.assertEqual(self.verify_statuses(revoked), {200})
        self.assertEqual(self.verify_statuses(unrelated), {200})
        r = self.revoke(body)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["revoked"], 1)
        self.assertGreater(r.json()["lsn"], 0)
        # Acknowledged means enforced everywhere: no retry, no sleep.
        self.assertEqual(self.verify_statuses(revoked), {401})
        self.assertEqual(self.verify_statuses(unrelated), {200})
        # The bulk endpoint checks revocation too.
        r = requests.post(self.s.http_url("/v1/verify"), data=f"{revoked}\n{unrelated}\n",
                          headers={"Content-Type": "text/plain"}, timeout=5)
        self.assertEqual(r.text.splitlines()[0], "invalid")
        self.assertTrue(r.text.splitlines()[1].startswith("ok"))

    # -- each kind -----------------------------------------------------------------------------
    def test_revoke_by_jti(self):
        exp = int(time.time()) + 600
        token = self.s.mint({"jti": "jti-victim", "exp": exp})
        other = self.s.mint({"jti": "jti-bystander", "exp": exp})
        before = self.metric('ringward_verify_total{reason="revoked"}') or 0
        self.assert_revoked_and_others_pass(token, other, {"jti": "jti-victim", "exp": exp})
        self.assertGreater(self.metric('ringward_verify_total{reason="revoked"}'), before)
        r = requests.get(self.s.admin_url("/admin/revocations/jti-victim"), headers=self.s.auth(),
                         timeout=5)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json(), {"kind": "jti", "jti": "jti-victim", "exp": exp})
        r = requests.get(self.s.admin_url("/admin/revocations/jti-bystander"),
                         headers=self.s.auth(), timeout=5)
        self.assertEqual(r.status_code, 404)

    def test_revoke_by_subject_before_a_time(self):
        now = int(time.time())
        old = self.s.mint({"sub": "mallory", "iat": now - 100})
        other = self.s.mint({"sub": "trent", "iat": now - 100})
        self.assert_revoked_and_others_pass(old, other, {"sub": "mallory", "before": now - 10})
        # Issued after "before": still valid (log out everywhere, then log in again).
        newer = self.s.mint({"sub": "mallory", "iat": now - 5})
        self.assertEqual(self.verify_statuses(newer), {200})

    def test_revoke_by_client_before_a_time(self):
        now = int(time.time())
        token = self.s.mint({"client_id": "leaky-app", "iat": now - 100})
        other = self.s.mint({"client_id": "good-app", "iat": now - 100})
        self.assert_revoked_and_others_pass(token, other,
                                            {"client_id": "leaky-app", "before": now})

    def test_revoke_by_key_id(self):
        token = self.s.mint_key2({"sub": "kid-victim"})
        other = self.s.mint({"sub": "kid-bystander"})  # key-1
        self.assert_revoked_and_others_pass(token, other, {"kid": "key-2"})
        self.assertEqual(self.verify_statuses(self.s.mint_key2({"sub": "fresh"})), {401})

    def test_bulk_form(self):
        exp = int(time.time()) + 600
        tokens = [self.s.mint({"jti": f"bulk-{i}", "exp": exp}) for i in range(3)]
        r = self.revoke({"revocations": [{"jti": f"bulk-{i}", "exp": exp} for i in range(3)]})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["revoked"], 3)
        for t in tokens:
            self.assertEqual(self.verify_statuses(t), {401})

    # -- the admin API's boundaries ------------------------------------------------------------
    def test_admin_token_is_required(self):
        r = self.revoke({"kid": "nope"}, token="wrong-" + "x" * 30)
        self.assertEqual(r.status_code, 401)
        self.assertEqual(r.headers["WWW-Authenticate"],
                         'Bearer realm="ringward-admin", error="invalid_token"')
        r = requests.post(self.s.admin_url("/admin/revocations"), json={"kid": "nope"}, timeout=5)
        self.assertEqual(r.status_code, 401)
        self.assertEqual(r.headers["WWW-Authenticate"], 'Bearer realm="ringward-admin"')
        for path in ("/admin/wal", "/metrics", "/admin/revocations/x"):
            self.assertEqual(requests.get(self.s.admin_url(path), timeout=5).status_code, 401)
        # Nothing was revoked by the refused requests.
        r = requests.get(self.s.admin_url("/admin/revocations/nope?kind=kid"),
                         headers=self.s.auth(), timeout=5)
        self.assertEqual(r.status_code, 404)

    def test_admin_routes_do_not_exist_on_public_listeners(self):
        for url in (self.s.http_url, self.s.https_url):
            for path in ("/admin/revocations", "/admin/wal", "/admin/revocations/x"):
                r = requests.get(url(path), headers=self.s.auth(), verify=self.s.cert, timeout=5)
                self.assertEqual(r.status_code, 404, path)
                r = requests.post(url("/admin/revocations"), json={"kid": "key-1"},
                                  headers=self.s.auth(), verify=self.s.cert, timeout=5)
                self.assertEqual(r.status_code, 404)
        self.assertEqual(self.verify_statuses(self.s.mint()), {200})  # key-1 not revoked

    def test_bad_requests_get_clear_errors(self):
        r = self.revoke({"jti": "x"})
        self.assertEqual(r.status_code, 400)
        self.assertIn("exp is required with jti", r.json()["error"])
        r = requests.post(self.s.admin_url("/admin/revocations"), headers=self.s.auth(),
                          data='{"kid":"a","kid":"b"}', timeout=5)
        self.assertEqual(r.status_code, 400)
        self.assertIn("not one strict JSON object", r.json()["error"])
        r = requests.get(self.s.admin_url("/admin/revocations"), headers=self.s.auth(), timeout=5)
        self.assertEqual(r.status_code, 405)
        self.assertEqual(r.headers["Allow"], "POST")

    def test_wal_status_and_metrics(self):
        self.assertEqual(self.revoke({"kid": "status-kid"}).status_code, 200)
        r = requests.get(self.s.admin_url("/admin/wal"), headers=self.s.auth(), timeout=5)
        self.assertEqual(r.status_code, 200)
        status = r.json()
        self.assertTrue(status["healthy"])
        self.assertGreaterEqual(status["durable_lsn"], 1)
        self.assertGreaterEqual(status["last_lsn"], status["durable_lsn"])
        self.assertGreaterEqual(status["syncs"], 1)
        self.assertGreater(status["last_sync_micros"], 0)
        self.assertTrue(status["segments"][0]["name"].startswith("wal-"))
        self.assertGreaterEqual(self.metric('ringward_revocations_total{kind="kid"}'), 1)
        self.assertEqual(self.metric("ringward_wal_healthy"), 1)
        r = requests.get(self.s.http_url("/readyz"), timeout=5)
        self.assertEqual(r.status_code, 200)

    # -- the CLI -------------------------------------------------------------------------------
    def test_ringward_revoke_cli(self):
        exp = int(time.time()) + 600
        token = self.s.mint({"jti": "cli-victim", "exp": exp})
        self.assertEqual(self.verify_statuses(token), {200})
        proc = rw.run("revoke", "--admin", f"http://127.0.0.1:{self.s.admin_port}",
                      "--token-file", self.s.token_file, "--jti", "cli-victim", "--exp", str(exp),
                      check=0)
        self.assertEqual(json.loads(proc.stdout)["revoked"], 1)
        self.assertEqual(self.verify_statuses(token), {401})
        proc = rw.run("revoke", "--admin", f"http://127.0.0.1:{self.s.admin_port}",
                      "--token-file", self.s.cert, "--kid", "x", check=1)
        self.assertIn("does not hold an admin token", proc.stderr)
        wrong = os.path.join(self.s.dir, "wrong-token")
        with open(wrong, "w") as f:
            f.write("not-the-admin-token-at-all-1234\n")
        proc = rw.run("revoke", "--admin", f"http://127.0.0.1:{self.s.admin_port}",
                      "--token-file", wrong, "--kid", "x", check=1)
        self.assertIn("HTTP 401", proc.stderr)
        rw.run("revoke", "--admin", "http://127.0.0.1:1", "--token-file", wrong, check=2)


class RestartTest(unittest.TestCase):
    """Revocations outlive the process; the log's tools; damage is reported, not guessed at."""

    def setUp(self):
        self.s = ra.AdminServer(shards=2, server={"metrics_on_public": False},
                                revocation={"segment_bytes": 4096, "compaction_segments": 0,
                                            "compaction_interval_s": 0})

    def tearDown(self):
        self.s.close()

    def revoke_many(self, prefix, n, exp):
        body = {"revocations": [{"jti": f"{prefix}-{i}", "exp": exp} for i in range(n)]}
        r = requests.post(self.s.admin_url("/admin/revocations"), json=body,
                          headers=self.s.auth(), timeout=10)
        self.assertEqual(r.status_code, 200, r.text)

    def lookup(self, jti):
        return requests.get(self.s.admin_url(f"/admin/revocations/{jti}"), headers=self.s.auth(),
                            timeout=5).status_code

    def test_restart_keeps_revocations_and_wal_dump_prints_them(self):
        self.s.start()
        exp = int(time.time()) + 600
        token = self.s.mint({"jti": "persist-1", "exp": exp})
        self.revoke_many("persist", 200, exp)  # several 4 KiB segments
        r = requests.post(self.s.admin_url("/admin/revocations"), json={"sub": "zed", "before": 5},
                          headers=self.s.auth(), timeout=5)
        self.assertEqual(r.status_code, 200)
        # metrics_on_public = false: only the admin listener serves them.
        self.assertEqual(requests.get(self.s.http_url("/metrics"), timeout=5).status_code, 404)
        r = requests.get(self.s.admin_url("/metrics"), headers=self.s.auth(), timeout=5)
        self.assertIn('ringward_revocations_total{kind="jti"} 200', r.text)
        self.assertEqual(self.s.stop(), 0)

        self.s.start()
        self.assertRegex(self.s.log_text(), r"event=revocation_log_recovered .*revocations=201 ")
        for jti in ("persist-0", "persist-1", "persist-199"):
            self.assertEqual(self.lookup(jti), 200, jti)
        r = requests.get(self.s.http_url("/v1/verify"),
                         headers={"Authorization": f"Bearer {token}"}, timeout=5)
        self.assertEqual(r.status_code, 401)
        r = requests.get(self.s.admin_url("/admin/revocations/zed?kind=subject"),
                         headers=self.s.auth(), timeout=5)
        self.assertEqual(r.json(), {"kind": "subject", "sub": "zed", "before": 5})

        # wal dump reads a live log (it takes no lock).
        proc = rw.run("wal", "dump", self.s.data_dir, check=0)
        self.assertEqual(len(re.findall(r"type=1 \(revoke_jti\)", proc.stdout)), 200)
        self.assertIn("type=2 (revoke_subject)", proc.stdout)
        self.assertRegex(proc.stdout, r"persist-199")
        self.assertEqual(self.s.stop(), 0)

    def test_torn_tail_is_cut_and_reported(self):
        self.s.start()
        exp = int(time.time()) + 600
        self.revoke_many("torn", 5, exp)
        self.assertEqual(self.s.kill(), -9)
        segments = sorted(n for n in os.listdir(self.s.wal_dir()) if n.startswith("wal-"))
        with open(os.path.join(self.s.wal_dir(), segments[-1]), "ab") as f:
            f.write(b"\x20\x00\x00\x00\x01\x00\x00\x00\x06")  # half a record header
        self.s.start()
        self.assertRegex(self.s.log_text(), r"<4>ringward: event=revocation_log_torn_tail .*"
                                            r"segment=" + re.escape(segments[-1]) + r" .*bytes=9 ")
        self.assertEqual(self.lookup("torn-4"), 200)
        self.assertEqual(self.s.stop(), 0)

    def test_mid_log_corruption_stops_start_until_repaired(self):
        self.s.start()
        exp = int(time.time()) + 600
        self.revoke_many("early", 100, exp)
        self.revoke_many("late", 100, exp)
        self.assertEqual(self.s.stop(), 0)
        segments = sorted(n for n in os.listdir(self.s.wal_dir()) if n.startswith("wal-"))
        self.assertGreater(len(segments), 1)
        first = os.path.join(self.s.wal_dir(), segments[0])
        with open(first, "r+b") as f:
            f.seek(32 + 16 + 12)  # into the first record's payload
            f.write(b"X")
        proc = subprocess.run([rw.BINARY, "serve", "--config", self.s.config_path],
                              capture_output=True, text=True, timeout=30)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(segments[0], proc.stderr)
        self.assertIn("byte offset 32", proc.stderr)
        self.assertIn("ringward wal repair", proc.stderr)
        proc = rw.run("wal", "dump", self.s.data_dir)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("byte offset 32", proc.stderr)

        proc = rw.run("wal", "repair", self.s.data_dir, check=0)
        self.assertIn(segments[0], proc.stdout)
        self.s.start()
        # Everything from the damaged record on was cut (kept in .bak files): a follower or a
        # backup would have to supply it. The server itself starts and serves.
        self.assertEqual(self.lookup("late-99"), 404)
        self.assertTrue(any(n.endswith(".bak") for n in os.listdir(self.s.wal_dir())))
        self.assertEqual(requests.post(self.s.admin_url("/admin/revocations"),
                                       json={"kid": "after-repair"}, headers=self.s.auth(),
                                       timeout=5).status_code, 200)
        self.assertEqual(self.s.stop(), 0)


class FailingDiskTest(unittest.TestCase):
    """A failed fdatasync (injected through the test hook) stops the log for good: the admin API
    answers 503, /readyz and the metrics say why, verification goes on with what was
    acknowledged, and a restart recovers from what is on disk."""

    def test_failed_fdatasync_turns_the_server_unready(self):
        s = ra.AdminServer(shards=2)
        self.addCleanup(s.close)
        s.env = {"RINGWARD_TEST_HOOKS": "1", "RINGWARD_TEST_FAIL_WAL_SYNC": "3"}
        s.start()
        self.assertIn("event=test_hook hook=fail_wal_sync at=3", s.log_text())
        exp = int(time.time()) + 600
        revoke = lambda jti: requests.post(s.admin_url("/admin/revocations"),
                                           json={"jti": jti, "exp": exp}, headers=s.auth(),
                                           timeout=10)
        self.assertEqual(revoke("disk-1").status_code, 200)
        self.assertEqual(revoke("disk-2").status_code, 200)
        r = revoke("disk-3")  # its fdatasync fails
        self.assertEqual(r.status_code, 503)
        self.assertIn("may or may not", r.json()["error"])
        r = revoke("disk-4")  # refused at once from now on
        self.assertEqual(r.status_code, 503)
        self.assertIn("refuses writes until ringward restarts", r.json()["error"])

        r = requests.get(s.http_url("/readyz"), timeout=5)
        self.assertEqual(r.status_code, 503)
        self.assertIn("revocation log has failed", r.text)
        r = requests.get(s.admin_url("/readyz"), headers=s.auth(), timeout=5)
        self.assertEqual(r.status_code, 503)
        r = requests.get(s.admin_url("/admin/wal"), headers=s.auth(), timeout=5)
        self.assertFalse(r.json()["healthy"])
        self.assertIn("fdatasync", r.json()["error"])
        deadline = time.monotonic() + 5  # the WAL gauges are refreshed every second
        while time.monotonic() < deadline:
            metrics = requests.get(s.admin_url("/metrics"), headers=s.auth(), timeout=5).text
            if rs.metric_value(metrics, "ringward_wal_healthy") == 0:
                break
            time.sleep(0.1)
        self.assertEqual(rs.metric_value(metrics, "ringward_wal_healthy"), 0)
        self.assertEqual(rs.metric_value(
            metrics, 'ringward_revocation_requests_total{result="failed"}'), 1)
        self.assertRegex(s.log_text(), r"<3>ringward: event=revocation_log_failed ")

        # Verification goes on, with every acknowledged revocation in force.
        token = s.mint({"jti": "disk-1", "exp": exp})
        r = requests.get(s.http_url("/v1/verify"), headers={"Authorization": f"Bearer {token}"},
                         timeout=5)
        self.assertEqual(r.status_code, 401)
        r = requests.get(s.http_url("/v1/verify"),
                         headers={"Authorization": f"Bearer {s.mint()}"}, timeout=5)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(s.stop(), 0)

        s.env = None
        s.start()
        for jti in ("disk-1", "disk-2"):
            r = requests.get(s.admin_url(f"/admin/revocations/{jti}"), headers=s.auth(),
                             timeout=5)
            self.assertEqual(r.status_code, 200, jti)
        self.assertEqual(revoke("disk-5").status_code, 200)
        self.assertEqual(requests.get(s.http_url("/readyz"), timeout=5).status_code, 200)
        self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    rw.main(globals())
