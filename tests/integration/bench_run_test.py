#!/usr/bin/python3
"""bench/run --quick against the current build: it starts ringward, runs every load workload
once for two seconds, writes report.md, summary.json and SVG charts with real numbers, and
leaves no process behind. Takes the ringward binary's path as its first argument and derives
the meson build directory from it (<build>/src/server/ringward). Skipped (exit 77) on fewer
than 2 CPUs, where client and server would fight over one core."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_RUN = os.path.join(HERE, "..", "..", "bench", "run")
BUILD_DIR = None


def ringward_processes_using(directory):
    """PIDs of ringward processes whose command line names a config under |directory|."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if any(directory.encode() in part for part in cmd) and b"serve" in cmd:
            found.append(int(pid))
    return found


class BenchRunTest(unittest.TestCase):
    def test_quick_run_writes_a_report_with_numbers(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "results")
            work = tempfile.gettempdir()
            before = set(ringward_processes_using(os.path.join(work, "ringward-bench-")))
            started = time.monotonic()
            proc = subprocess.run(
                [BENCH_RUN, "--quick", "--no-build", "--build-dir", BUILD_DIR, "--out", out],
                capture_output=True, text=True, timeout=240)
            elapsed = time.monotonic() - started
            self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])

            report_path = os.path.join(out, "report.md")
            self.assertTrue(os.path.isfile(report_path), os.listdir(out))
            with open(report_path) as f:
                report = f.read()
            self.assertIn("```\nbench/run --quick --no-build --build-dir", report[:400])
            self.assertIn("## Machine", report)
            self.assertIn("BoringSSL", report)

            svgs = [n for n in os.listdir(os.path.join(out, "svg")) if n.endswith(".svg")]
            self.assertTrue(svgs)
            self.assertIn("chart-cpu-per-request.svg", svgs)
            for name in svgs:
                with open(os.path.join(out, "svg", name)) as f:
                    self.assertIn("<svg", f.read(200))
                self.assertIn(f"svg/{name}", report, f"report.md does not link {name}")

            # The report has measured numbers: a table row for ringward's plain verify with a
            # positive throughput and CPU per request.
            section = report.split("### verify HS256 over plain HTTP, 1000-token pool", 1)[1]
            row = next(line for line in section.splitlines() if line.startswith("| **ringward**"))
            cells = [c.strip() for c in row.strip("|").split("|")]
            self.assertGreater(float(cells[1].split()[0].replace(",", "")), 100, row)
            self.assertGreater(float(cells[5].split()[0]), 0, row)
            self.assertEqual(cells[7], "0", f"errors in {row}")

            with open(os.path.join(out, "summary.json")) as f:
                summary = json.load(f)
            by_id = {w["id"]: w for w in summary["workloads"]}
            for wid in ("static-plain", "static-tls", "verify-plain-hs256-pool1000",
                        "verify-tls-eddsa-pool1000", "bulk-plain-hs256-cacheoff",
                        "open-loop-tls-eddsa"):
                self.assertIn(wid, by_id)
                t = by_id[wid]["targets"][0]
                self.assertEqual(t["failed_runs"], 0, (wid, t["runs"]))
                self.assertGreater(t["median"]["throughput_rps"], 0, wid)
                self.assertGreater(t["median"]["server_cpu_us"], 0, wid)
            self.assertGreater(
                by_id["verify-plain-hs256-pool1000"]["targets"][0]["median"]["cache_hit_ratio"],
                0.5)
            self.assertGreater(
                by_id["bulk-plain-hs256-cacheoff"]["targets"][0]["median"]["bulk_tokens_per_s"],
                1000)
            self.assertTrue(re.search(r"Rate: \*\*[0-9,]+ req/s\*\*", report))

            # Issuance: bench/run registered a client and a user through the admin API and
            # measured client_credentials and password grants; the report has both rows.
            for wid in ("issue-tls", "revoke-tls", "mixed-tls", "password-tls"):
                self.assertIn(wid, by_id, summary.get("skipped"))
                t = by_id[wid]["targets"][0]
                self.assertEqual(t["failed_runs"], 0, (wid, t["runs"]))
                self.assertEqual(t["errors_total"], 0, (wid, t["runs"]))
                self.assertGreater(t["median"]["throughput_rps"], 0, wid)
                self.assertGreater(t["median"]["server_cpu_us"], 0, wid)
            self.assertEqual(by_id["password-tls"]["argon2"]["argon2_memory_kib"], 19456)
            section = report.split("## Issuance", 1)[1].split("\n## ", 1)[0]
            for grant in ("client_credentials", "password (argon2id m=19456 KiB, t=2, p=1)"):
                row = next((line for line in section.splitlines()
                            if line.startswith(f"| {grant} |")), None)
                self.assertIsNotNone(row, f"no {grant} row in:\n{section}")
                cells = [c.strip() for c in row.strip("|").split("|")]
                self.assertGreater(float(cells[1].strip("*").split()[0].replace(",", "")), 0, row)
                self.assertGreater(float(cells[4].split()[0].replace(",", "")), 0, row)
                self.assertEqual(cells[5], "0", f"errors in {row}")

            # Everything it started is gone.
            time.sleep(0.5)
            after = set(ringward_processes_using(os.path.join(work, "ringward-bench-")))
            self.assertEqual(after - before, set())
            print(f"bench/run --quick took {elapsed:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    if len(os.sched_getaffinity(0)) < 2:
        print("skipped: bench/run needs at least 2 CPUs", file=sys.stderr)
        sys.exit(77)
    ringward = os.path.abspath(sys.argv[1])
    BUILD_DIR = os.path.dirname(os.path.dirname(os.path.dirname(ringward)))
    sys.argv = sys.argv[:1] + sys.argv[2:]
    unittest.main(verbosity=2)
