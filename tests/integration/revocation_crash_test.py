#!/usr/bin/python3
"""Crash test with the real binary: a client keeps hundreds of revocations in flight (bulk and
single requests on many connections) while the server is killed with SIGKILL at a random
moment, round after round. After every restart, every revocation that was acknowledged before
the kill must be in force: GET /admin/revocations/{jti} answers 200 and the token is refused by
/v1/verify. Revocations that were in flight but never acknowledged may or may not be there.

The log is configured with small segments and compaction by segment count, so kills also land
in the middle of compactions and recoveries replay snapshot + log.

RINGWARD_SOAK_ROUNDS=N (default 20) sets the number of rounds; RINGWARD_CRASH_SEED the seed.
"""
import os
import random
import re
import selectors
import socket
import sys
import threading
import time
import unittest

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ringward_admin as ra  # noqa: E402
import ringward_cli as rw  # noqa: E402

ROUNDS = int(os.environ.get("RINGWARD_SOAK_ROUNDS", "20"))
SEED = int(os.environ.get("RINGWARD_CRASH_SEED", str(int(time.time()))))
CONNECTIONS = 16
BATCH = 24  # revocations per bulk request; one connection in four sends single ones
# Above this many acknowledged revocations, a round checks the newest ones in full and a sample
# of the older ones (the final check after the last round is always in full).
FULL_CHECK_LIMIT = 60000
SAMPLE = 3000


class RevokeLoad:
    """Keeps CONNECTIONS admin requests in flight until every connection has failed (the server
    was killed) or |stop| is set. Records the jtis of every 200 answer."""

    def __init__(self, port, token, prefix, exp, rng):
        self.port = port
        self.token = token
        self.prefix = prefix
        self.exp = exp
        self.rng = rng
        self.acked = []
        self.sent = 0
        self.requests = 0
        self.errors = []
        self.next_id = 0
        self.stop = threading.Event()
        self.started = threading.Event()

    def _request(self, state):
        n = BATCH if state["bulk"] else 1
        jtis = [f"{self.prefix}-{self.next_id + i}" for i in range(n)]
        self.next_id += n
        if state["bulk"]:
            body = '{"revocations":[' + ",".join(
                f'{{"jti":"{j}","exp":{self.exp}}}' for j in jtis) + "]}"
        else:
            body = f'{{"jti":"{jtis[0]}","exp":{self.exp}}}'
        body = body.encode()
        state["jtis"] = jtis
        state["out"] = (b"POST /admin/revocations HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
                        self.token.encode() + b"\r\nContent-Type: application/json\r\n"
                        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        self.sent += n
        self.requests += 1

    def run(self):
        sel = selectors.DefaultSelector()
        live = 0
        for c in range(CONNECTIONS):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            state = {"sock": sock, "in": b"", "bulk": c % 4 != 0}
            self._request(state)
            sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, state)
            live += 1
        self.started.set()
        while live > 0 and not self.stop.is_set():
            for key, events in sel.select(timeout=0.2):
                state = key.data
                sock = state["sock"]
                try:
                    if events & selectors.EVENT_WRITE and state["out"]:
                        n = sock.send(state["out"])
                        state["out"] = state["out"][n:]
                        if not state["out"]:
                            sel.modify(sock, selectors.EVENT_READ, state)
                    if events & selectors.EVENT_READ:
                        chunk = sock.recv(65536)
                        if not chunk:
                            raise ConnectionError("closed")
                        state["in"] += chunk
                        end = state["in"].find(b"\r\n\r\n")
                        if end < 0:
                            continue
                        head = state["in"][:end]
                        m = re.search(rb"\r\nContent-Length: (\d+)", head)
                        length = int(m.group(1)) if m else 0
                        if len(state["in"]) < end + 4 + length:
                            continue
                        status = int(head.split(b" ", 2)[1])
                        if status == 200:
                            self.acked.extend(state["jtis"])
                        else:
                            self.errors.append((status, state["in"][end + 4:end + 4 + length]))
                        state["in"] = state["in"][end + 4 + length:]
                        self._request(state)
                        sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, state)
                except (OSError, ConnectionError):
                    sel.unregister(sock)
                    sock.close()
                    live -= 1
        for key in list(sel.get_map().values()):
            key.data["sock"].close()
        sel.close()


class RevocationCrashTest(unittest.TestCase):
    def setUp(self):
        self.rng = random.Random(SEED)
        self.s = ra.AdminServer(
            shards=2, hs256=True, tokens={"bulk_max_tokens": 5000, "cache_entries": 4096},
            revocation={"segment_bytes": 65536, "compaction_segments": 3,
                        "compaction_interval_s": 0})
        self.exp = int(time.time()) + 7200
        self.tokens = {}  # jti -> token, minted once

    def tearDown(self):
        self.s.close()

    def token(self, jti):
        t = self.tokens.get(jti)
        if t is None:
            t = self.tokens[jti] = self.s.mint_hs256(jti, self.exp)
        return t

    def check(self, acked, newest, label):
        """Every jti in |acked| is in force; |newest| (the round just crashed) also through
        GET /v1/verify one by one."""
        auth = f"Authorization: Bearer {self.s.admin_token}\r\n".encode()
        lookups = [b"GET /admin/revocations/" + j.encode() + b" HTTP/1.1\r\nHost: t\r\n" + auth +
                   b"\r\n" for j in acked]
        statuses = ra.pipelined_statuses(self.s.admin_port, lookups)
        missing = [j for j, st in zip(acked, statuses) if st != 200]
        self.assertEqual(missing[:10], [], f"{label}: {len(missing)} acknowledged revocation(s) "
                                           f"missing after the restart (seed {SEED})")
        # Tokens: bulk verify for all of them, GET /v1/verify for the newest.
        for i in range(0, len(acked), 2000):
            chunk = acked[i:i + 2000]
            body = "\n".join(self.token(j) for j in chunk) + "\n"
            r = requests.post(self.s.http_url("/v1/verify"), data=body,
                              headers={"Content-Type": "text/plain"}, timeout=30)
            self.assertEqual(r.status_code, 200)
            answers = r.text.splitlines()
            accepted = [j for j, a in zip(chunk, answers) if a != "invalid"]
            self.assertEqual(len(answers), len(chunk))
            self.assertEqual(accepted[:10], [], f"{label}: revoked tokens accepted (seed {SEED})")
        gets = [b"GET /v1/verify HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
                self.token(j).encode() + b"\r\n\r\n" for j in newest]
        statuses = ra.pipelined_statuses(self.s.http_port, gets)
        self.assertEqual([j for j, st in zip(newest, statuses) if st != 401][:10], [], label)
        # A token that was never revoked still passes, on both paths.
        control = self.s.mint_hs256(f"never-revoked-{self.rng.random()}", self.exp)
        self.assertEqual(ra.pipelined_statuses(
            self.s.http_port, [b"GET /v1/verify HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
                               control.encode() + b"\r\n\r\n"]), [200])

    def test_acknowledged_revocations_survive_sigkill(self):
        started = time.monotonic()
        acked_all = []
        sent_all = 0
        requests_all = 0
        torn = 0
        compactions = 0
        self.s.start()
        for rnd in range(ROUNDS):
            load = RevokeLoad(self.s.admin_port, self.s.admin_token, f"r{rnd}", self.exp, self.rng)
            thread = threading.Thread(target=load.run, daemon=True)
            thread.start()
            self.assertTrue(load.started.wait(10))
            # A random moment: mostly in full flight, sometimes right at the start.
            time.sleep(self.rng.choice([0.0, 0.01]) if rnd % 7 == 3
                       else self.rng.uniform(0.03, 0.3))
            log_before = self.s.log_text()
            compactions += log_before.count("event=revocation_log_compacted")
            self.assertEqual(self.s.kill(), -9)
            thread.join(30)
            self.assertFalse(thread.is_alive(), "the load did not notice the kill")
            self.assertEqual([e for e in load.errors if e[0] != 200][:5], [],
                             "refused revocations while the server was healthy")
            acked_all += load.acked
            sent_all += load.sent
            requests_all += load.requests

            self.s.start()
            log = self.s.log_text()
            torn += log.count("event=revocation_log_torn_tail")
            replay = re.search(r"event=revocation_log_recovered .* ms=(\d+)", log)
            captures = re.findall(r"capture_ms=(\d+) write_ms=(\d+)", log_before)
            if len(acked_all) <= FULL_CHECK_LIMIT:
                check = acked_all
            else:
                older = acked_all[:-len(load.acked)] if load.acked else acked_all
                check = load.acked + self.rng.sample(older, min(SAMPLE, len(older)))
            self.check(check, load.acked, f"round {rnd}")
            print(f"round {rnd}: {len(load.acked)} acknowledged of {load.sent} sent; "
                  f"{len(acked_all)} in total checked after restart (recovery "
                  f"{replay.group(1) if replay else '?'} ms; compactions captured/written ms "
                  f"{captures})", file=sys.stderr)
        # Finally everything, after one more clean restart.
        self.assertEqual(self.s.stop(), 0)
        self.s.start()
        self.check(acked_all, acked_all[-200:], "final")
        r = requests.get(self.s.admin_url("/admin/wal"), headers=self.s.auth(), timeout=5)
        self.assertTrue(r.json()["healthy"])
        snapshot_lsn = r.json()["snapshot_lsn"]
        self.assertEqual(self.s.stop(), 0)
        elapsed = time.monotonic() - started
        print(f"crash test: {ROUNDS} rounds (SIGKILL), {len(acked_all)} acknowledged revocations "
              f"of {sent_all} sent in {requests_all} requests, all in force after every restart; "
              f"{compactions} compactions, {torn} torn tails cut, snapshot at LSN {snapshot_lsn}; "
              f"{elapsed:.1f} s, seed {SEED}", file=sys.stderr)
        self.assertGreater(len(acked_all), ROUNDS * 10)


if __name__ == "__main__":
    rw.main(globals())
