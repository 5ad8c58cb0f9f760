"""Helpers shared by the integration tests: run the real ringward binary, keep temp files."""
import json
import os
import subprocess
import sys
import tempfile

BINARY = None  # set by main() from argv[1]


def run(*args, stdin=None, check=None):
    """Runs ringward with args; returns CompletedProcess (text mode)."""
    proc = subprocess.run([BINARY, *args], input=stdin, capture_output=True, text=True, timeout=60)
    if check is not None and proc.returncode != check:
        raise AssertionError(f"ringward {' '.join(args)} exited {proc.returncode}, expected {check}\n"
                             f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def keygen(alg, kid, directory):
    """Generates a key with `ringward keygen` and writes it to directory/kid.json."""
    proc = run("keygen", "--alg", alg, "--kid", kid, check=0)
    jwks = json.loads(proc.stdout)
    path = os.path.join(directory, f"{kid}.json")
    with open(path, "w") as f:
        f.write(proc.stdout)
    return path, jwks


def main(module_globals):
    import unittest
    global BINARY
    BINARY = os.path.abspath(sys.argv[1])
    sys.argv = sys.argv[:1] + sys.argv[2:]
    unittest.main(module=module_globals["__name__"], verbosity=2)
