#!/usr/bin/python3
"""A deliberately slow HTTP/1.1 server for showing coordinated omission (loopback only).

It answers every request at once with "200 ok", except that once per period (default every
second) it stops for a stall (default 200 ms) and answers nothing; requests that arrive
meanwhile wait in the kernel's socket buffers and are answered right after the stall.

A closed-loop load generator with a few connections sees at most one slow answer per connection
per stall, so its p99 stays tiny; an open-loop generator keeps sending at its rate during the
stall, and its latency, counted from the intended send time, shows the stall at p99.

  slow_server.py [--port N] [--stall-ms 200] [--period-ms 1000]
Prints "listening on 127.0.0.1:PORT" once ready (PORT 0 lets the kernel choose). Standard
library only; single-threaded, keep-alive, pipelining-safe, GET and POST with Content-Length.
"""
import argparse
import selectors
import socket
import sys
import time

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"


def content_length(head):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def serve(port, stall_s, period_s):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1024)
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    buffers = {}
    print(f"listening on 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    next_stall = time.monotonic() + period_s
    while True:
        now = time.monotonic()
        if stall_s > 0 and now >= next_stall:
            time.sleep(stall_s)
            while next_stall <= time.monotonic():
                next_stall += period_s
            continue
        timeout = max(0.0, next_stall - now) if stall_s > 0 else None
        for key, _ in sel.select(timeout):
            if key.data is None:
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sel.register(conn, selectors.EVENT_READ, b"")
                buffers[conn] = b""
                continue
            conn = key.fileobj
            try:
                data = conn.recv(65536)
            except (ConnectionError, BlockingIOError):
                data = b""
            if not data:
                sel.unregister(conn)
                buffers.pop(conn, None)
                conn.close()
                continue
            buf = buffers[conn] + data
            out = []
            while True:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                total = end + 4 + content_length(buf[:end])
                if len(buf) < total:
                    break
                buf = buf[total:]
                out.append(RESPONSE)
            buffers[conn] = buf
            if out:
                try:
                    conn.sendall(b"".join(out))
                except (ConnectionError, BlockingIOError):
                    pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stall-ms", type=float, default=200)
    parser.add_argument("--period-ms", type=float, default=1000)
    args = parser.parse_args()
    try:
        serve(args.port, args.stall_ms / 1000.0, args.period_ms / 1000.0)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
