#!/usr/bin/python3
"""ringward-load against a deliberately slow server (bench/load/slow_server.py, which stalls for
200 ms once a second) on 127.0.0.1: the open loop holds its rate and its p99, counted from the
intended send times, shows the stall; a closed loop with few connections sends almost nothing
during the stall, so its p99 hides it (coordinated omission). Takes the ringward-load binary's
path as its first argument; runs for about ten seconds."""
import json
import os
import select
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SLOW_SERVER = os.path.join(HERE, "..", "..", "bench", "load", "slow_server.py")
LOAD = None


class SlowServer:
    def __init__(self, stall_ms=200, period_ms=1000):
        self.proc = subprocess.Popen(
            [sys.executable, SLOW_SERVER, "--port", "0", "--stall-ms", str(stall_ms),
             "--period-ms", str(period_ms)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("listening on 127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"slow server did not start: {line!r}")
        self.url = "http://" + line.split()[-1] + "/"

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


class LoadGeneratorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = SlowServer()
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.tmp.cleanup()

    def run_load(self, name, *args):
        out = os.path.join(self.tmp.name, name + ".json")
        svg = os.path.join(self.tmp.name, name + ".svg")
        proc = subprocess.run([LOAD, *args, "--json", out, "--svg", svg, self.server.url],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        sys.stderr.write(proc.stdout)
        with open(svg) as f:
            self.assertIn("</svg>", f.read())
        with open(out) as f:
            return json.load(f)

    def test_open_loop_holds_its_rate_and_shows_the_stall_that_closed_loop_hides(self):
        # Enough connections that every request due during a stall still has one to go out on,
        # so the sends keep the schedule exactly.
        rate, seconds = 1000, 4
        opened = self.run_load("open", "--rate", str(rate), "-c", "256", "-d", str(seconds))
        result = opened["result"]
        self.assertEqual(result["scheduled"], rate * seconds)
        self.assertEqual(result["requests"], rate * seconds)
        self.assertEqual(opened["errors"]["request_errors"], 0)
        self.assertAlmostEqual(result["sent_rps"], rate, delta=rate * 0.01)
        # Answers may run up to one stall past the window: 4000 in 4.2 s is 952/s.
        self.assertAlmostEqual(result["throughput_rps"], rate, delta=rate * 0.08)
        # About a fifth of the requests fall due inside a stall and wait up to 200 ms, so the p99
        # is near 190 ms: the stall is in the numbers.
        open_p99 = opened["latency_us"]["p99"]
        self.assertGreaterEqual(open_p99, 100_000)
        self.assertGreaterEqual(opened["latency_us"]["p90"], 20_000)

        # Closed loop, two connections, as fast as they go: each stall delays just the two
        # requests in flight, a few in tens of thousands, far beyond the p99.
        closed = self.run_load("closed", "-c", "2", "-d", "3")
        self.assertEqual(closed["errors"]["request_errors"], 0)
        self.assertGreater(closed["result"]["requests"], 3000)
        closed_p99 = closed["latency_us"]["p99"]
        self.assertGreaterEqual(closed["latency_us"]["max"], 150_000, "the stalls did happen")
        self.assertLess(closed_p99, 50_000)
        self.assertLess(closed_p99 * 4, open_p99)

    def test_stops_by_itself_on_a_request_count(self):
        report = self.run_load("count", "-c", "4", "-n", "500")
        self.assertEqual(report["result"]["requests"], 500)
        self.assertEqual(report["result"]["sent"], 500)
        self.assertEqual(report["status"], {"200": 500})

    def test_connection_refused_is_reported_not_hung(self):
        sock_port = None
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            sock_port = s.getsockname()[1]
        proc = subprocess.run([LOAD, "-c", "2", "-d", "1", f"http://127.0.0.1:{sock_port}/"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("Connection refused", proc.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: load_test.py PATH_TO_RINGWARD_LOAD")
    LOAD = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
