#!/usr/bin/python3
"""Durable revocations per second through the admin API, with the bulk form.

ringward-load (-w revoke --admin-url) sends one revocation per request, so its in-flight count is
its connection count. This driver sends {"revocations":[...]} requests of --batch revocations on
--connections keep-alive connections, so connections x batch revocations are in flight while the
server's group commit makes them durable together. It counts only 200 answers (durable and
visible on every shard), and stops by itself after --duration seconds.

  bench/revocation/admin_revoke_load.py --admin http://127.0.0.1:8444 --token-file var/admin-token \
      --connections 16 --batch 64 --duration 5
"""
import argparse
import re
import selectors
import socket
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--admin", required=True, help="http://127.0.0.1:PORT (loopback only)")
    p.add_argument("--token-file", required=True)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--prefix", default=f"bulk-load-{int(time.time())}")
    args = p.parse_args()
    m = re.fullmatch(r"http://(127\.0\.0\.1|localhost):(\d+)/?", args.admin)
    if not m:
        sys.exit("--admin must be http://127.0.0.1:PORT")
    port = int(m.group(2))
    token = open(args.token_file).read().strip()
    exp = int(time.time()) + 3600
    counter = [0]

    def request():
        first = counter[0]
        counter[0] += args.batch
        body = ('{"revocations":[' + ",".join(
            f'{{"jti":"{args.prefix}-{i}","exp":{exp}}}' for i in range(first, first + args.batch))
            + "]}").encode()
        return (b"POST /admin/revocations HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
                token.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: " +
                str(len(body)).encode() + b"\r\n\r\n" + body)

    sel = selectors.DefaultSelector()
    latencies = []
    for _ in range(args.connections):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        state = {"sock": s, "out": request(), "in": b"", "t0": time.monotonic()}
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, state)
    acked = 0
    failed = 0
    start = time.monotonic()
    deadline = start + args.duration
    open_conns = args.connections
    while open_conns > 0:
        for key, events in sel.select(timeout=1):
            st = key.data
            s = st["sock"]
            if events & selectors.EVENT_WRITE and st["out"]:
                st["out"] = st["out"][s.send(st["out"]):]
                if not st["out"]:
                    sel.modify(s, selectors.EVENT_READ, st)
            if not events & selectors.EVENT_READ:
                continue
            chunk = s.recv(65536)
            if not chunk:
                sys.exit("the server closed a connection")
            st["in"] += chunk
            end = st["in"].find(b"\r\n\r\n")
            if end < 0:
                continue
            length = int(re.search(rb"Content-Length: (\d+)", st["in"][:end]).group(1))
            if len(st["in"]) < end + 4 + length:
                continue
            status = int(st["in"].split(b" ", 2)[1])
            st["in"] = st["in"][end + 4 + length:]
            now = time.monotonic()
            latencies.append(now - st["t0"])
            if status == 200:
                acked += args.batch
            else:
                failed += 1
            if now >= deadline:
                sel.unregister(s)
                s.close()
                open_conns -= 1
                continue
            st["out"] = request()
            st["t0"] = now
            sel.modify(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)
    elapsed = time.monotonic() - start
    latencies.sort()
    pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    print(f"{acked} durable revocations in {elapsed:.2f} s = {acked / elapsed:,.0f}/s with "
          f"{args.connections} x {args.batch} = {args.connections * args.batch} in flight; "
          f"{len(latencies)} requests, p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms; "
          f"{failed} failed")


if __name__ == "__main__":
    main()
