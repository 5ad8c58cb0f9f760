#!/usr/bin/python3
"""The Debian package, built and installed the way an operator would (opt-in: slow, and it
installs a package on this machine).

Runs only when RINGWARD_DEB_TEST=1; otherwise it prints a notice and exits 77 (meson's
"skipped"). It needs root. It installs the packaging tools it needs (debhelper, dpkg-dev,
fakeroot, build-essential) with apt-get when they are missing, builds the .deb with
`dpkg-buildpackage -us -uc -b` in a copy of the source tree, installs it with `dpkg -i`, and
checks what the package put on the machine: the binary runs (`ringward keygen`), the generated
signing key and admin token are root-only and usable, the ringward user and its directories
exist, the installed units pass `systemd-analyze verify`, and the man page is found. When the
installed `ringward help` lists `config check`, the installed example config is checked too.
At the end the package is purged again (unless it was installed before the test began, or
RINGWARD_DEB_KEEP=1).

Usage: RINGWARD_DEB_TEST=1 deb_test.py [RINGWARD_BINARY (ignored: the test builds its own)]
"""
import glob
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = ["debhelper", "dpkg-dev", "fakeroot", "build-essential"]
# Top-level entries of the source tree that are build output or local state, not source.
NOT_SOURCE = ("build", "obj-", "var", "results", ".git")

ISSUER = "https://issuer.example"


def run(args, check=True, timeout=600, **kwargs):
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}\n"
                             f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}")
    return proc


def installed(package):
    proc = run(["dpkg-query", "-W", "-f=${Status}", package], check=False)
    return proc.returncode == 0 and "install ok installed" in proc.stdout


def install_tools():
    missing = [p for p in TOOLS if not installed(p)]
    if missing:
        print(f"deb_test: installing {' '.join(missing)}", file=sys.stderr)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env,
            timeout=1800)


def copy_source(destination):
    def ignore(directory, names):
        if os.path.abspath(directory) != ROOT:
            return [n for n in names if n == "__pycache__"]
        return [n for n in names if n.startswith(NOT_SOURCE)]

    shutil.copytree(ROOT, destination, ignore=ignore, symlinks=True)
    # Leftovers of an earlier package build in the tree would confuse this one.
    for leftover in ("debian/ringward", "debian/.debhelper", "debian/files"):
        path = os.path.join(destination, leftover)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


class DebPackageTest(unittest.TestCase):
    """One build and one install, shared by the checks (building takes minutes)."""

    @classmethod
    def setUpClass(cls):
        install_tools()
        cls.was_installed = installed("ringward")
        cls.work = tempfile.TemporaryDirectory(prefix="ringward-deb-")
        source = os.path.join(cls.work.name, "ringward")
        copy_source(source)
        env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=2")
        log = os.path.join(cls.work.name, "build.log")
        with open(log, "w") as out:
            proc = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=source, env=env,
                                  stdout=out, stderr=subprocess.STDOUT, timeout=3600)
        if proc.returncode != 0:
            with open(log) as f:
                tail = f.read()[-6000:]
            raise AssertionError(f"dpkg-buildpackage failed ({proc.returncode}):\n{tail}")
        debs = glob.glob(os.path.join(cls.work.name, "ringward_*_amd64.deb"))
        if len(debs) != 1:
            raise AssertionError(f"expected one ringward .deb, found {debs}")
        cls.deb = debs[0]
        cls.contents = run(["dpkg-deb", "-c", cls.deb]).stdout
        cls.control = run(["dpkg-deb", "-f", cls.deb]).stdout
        cls.postinst = run(["dpkg-deb", "-I", cls.deb, "postinst"]).stdout
        cls.install = run(["dpkg", "-i", cls.deb], check=False)
        cls.ringward = "/usr/bin/ringward"

    @classmethod
    def tearDownClass(cls):
        if not cls.was_installed and os.environ.get("RINGWARD_DEB_KEEP") != "1":
            run(["dpkg", "--purge", "ringward"], check=False)
        cls.work.cleanup()

    def entry(self, path):
        """The `dpkg-deb -c` line of path (./usr/bin/ringward), or None."""
        for line in self.contents.splitlines():
            if line.split()[-1].rstrip("/") == "." + path:
                return line
        return None

    def test_package_installs(self):
        self.assertEqual(self.install.returncode, 0, self.install.stdout + self.install.stderr)
        self.assertTrue(installed("ringward"))

    def test_package_ships_binary_units_and_docs(self):
        for path in ("/usr/bin/ringward", "/usr/share/man/man8/ringward.8.gz",
                     "/usr/lib/sysusers.d/ringward.conf", "/usr/lib/tmpfiles.d/ringward.conf",
                     "/etc/ringward/ringward.toml.example"):
            with self.subTest(path=path):
                self.assertIsNotNone(self.entry(path), self.contents)
        # dh_compress compresses documentation above a few kilobytes.
        self.assertTrue(self.entry("/usr/share/doc/ringward/operations.md") or
                        self.entry("/usr/share/doc/ringward/operations.md.gz"), self.contents)
        for unit in ("ringward.service", "ringward.socket"):
            with self.subTest(unit=unit):
                self.assertTrue(self.entry("/usr/lib/systemd/system/" + unit) or
                                self.entry("/lib/systemd/system/" + unit), self.contents)
        tls = self.entry("/etc/ringward/tls")
        self.assertIsNotNone(tls)
        self.assertTrue(tls.startswith("drwx------"), tls)

    def test_package_depends_on_boringssl_and_runs_sysusers_first(self):
        depends = re.search(r"^Depends: (.*)$", self.control, re.M)
        self.assertIsNotNone(depends, self.control)
        self.assertIn("android-libboringssl", depends.group(1))
        # The user must exist before systemd-tmpfiles hands it /var/lib/ringward.
        sysusers = self.postinst.find("systemd-sysusers")
        tmpfiles = self.postinst.find("systemd-tmpfiles")
        self.assertTrue(0 <= sysusers < tmpfiles, self.postinst)

    def test_installed_binary_makes_keys(self):
        proc = run([self.ringward, "keygen", "--alg", "EdDSA"])
        key = json.loads(proc.stdout)["keys"][0]
        self.assertEqual((key["kty"], key["crv"], key["alg"]), ("OKP", "Ed25519", "EdDSA"))
        self.assertIn("d", key)

    def test_postinst_made_root_only_secrets_that_work(self):
        for path in ("/etc/ringward/keys.json", "/etc/ringward/admin-token"):
            with self.subTest(path=path):
                st = os.stat(path)
                self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (0, 0o600))
        with open("/etc/ringward/admin-token") as f:
            token = f.read()
        self.assertRegex(token, r"^[A-Za-z0-9_-]{43}$")
        # The generated key signs, and what it signs verifies.
        claims = json.dumps({"iss": ISSUER, "sub": "alice"})
        jwt = run([self.ringward, "token", "mint", "--keys", "/etc/ringward/keys.json",
                   "--claims", claims]).stdout.strip()
        proc = run([self.ringward, "token", "verify", "--keys", "/etc/ringward/keys.json",
                    "--issuer", ISSUER, jwt])
        self.assertEqual(json.loads(proc.stdout)["sub"], "alice")

    def test_user_and_directories_exist(self):
        user = pwd.getpwnam("ringward")
        self.assertLess(user.pw_uid, 1000)
        self.assertTrue(user.pw_shell.endswith("nologin"))
        expected = {"/var/lib/ringward": (user.pw_uid, 0o700), "/etc/ringward/tls": (0, 0o700),
                    "/etc/ringward": (0, 0o755)}
        for path, (owner, mode) in expected.items():
            with self.subTest(path=path):
                st = os.stat(path)
                self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (owner, mode))

    def test_service_is_enabled_and_socket_is_not(self):
        wants = "/etc/systemd/system/multi-user.target.wants/ringward.service"
        self.assertTrue(os.path.islink(wants), "ringward.service should be enabled")
        self.assertFalse(os.path.exists("/etc/systemd/system/sockets.target.wants/ringward.socket"),
                         "ringward.socket should be left for the operator to enable")

    def test_installed_units_verify(self):
        units = [u for u in ("/usr/lib/systemd/system/ringward.service",
                             "/usr/lib/systemd/system/ringward.socket") if os.path.exists(u)]
        if not units:
            units = ["/lib/systemd/system/ringward.service", "/lib/systemd/system/ringward.socket"]
        man = [] if shutil.which("man") else ["--man=no"]
        proc = run(["systemd-analyze", "verify", *man, *units], check=False)
        self.assertEqual((proc.returncode, proc.stderr.strip()), (0, ""))
        proc = run(["systemd-analyze", "security", "--offline=yes", "--threshold=20", units[0]],
                   check=False)
        self.assertEqual(proc.returncode, 0, proc.stdout[-2000:])

    def test_man_page_is_found(self):
        if shutil.which("man") is None:
            self.skipTest("man-db is not installed")
        proc = run(["man", "-w", "ringward"], check=False)
        self.assertEqual(proc.stdout.strip(), "/usr/share/man/man8/ringward.8.gz")

    def test_example_config_checks(self):
        usage = run([self.ringward, "help"]).stdout
        if "config check" not in usage:
            self.skipTest("this ringward has no `config check` yet")
        # The example's relative paths name keys.json, cert.pem and key.pem beside it, which a
        # fresh install does not have: check a copy of the installed example with them in place.
        directory = os.path.join(self.work.name, "config-check")
        os.makedirs(directory)
        shutil.copy("/etc/ringward/ringward.toml.example", directory)
        with open(os.path.join(directory, "keys.json"), "w") as f:
            f.write(run([self.ringward, "keygen", "--alg", "EdDSA"]).stdout)
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             os.path.join(directory, "key.pem"), "-out", os.path.join(directory, "cert.pem"),
             "-days", "1", "-subj", "/CN=localhost"])
        proc = run([self.ringward, "config", "check",
                    os.path.join(directory, "ringward.toml.example")], check=False)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)


def main():
    if os.environ.get("RINGWARD_DEB_TEST") != "1":
        print("SKIP: the Debian package test is opt-in: run it with RINGWARD_DEB_TEST=1 "
              "(builds and installs the .deb on this machine; takes minutes)")
        sys.exit(77)
    if os.geteuid() != 0:
        print("SKIP: the Debian package test installs a package: run it as root")
        sys.exit(77)
    sys.argv = sys.argv[:1]
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
