#!/usr/bin/python3
"""The ringward command line as a user meets it: keygen, token mint/verify/inspect."""
import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ringward_cli as rw  # noqa: E402

ISSUER = "https://issuer.example"


class CliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.keys, self.jwks = rw.keygen("EdDSA", "ed-1", self.dir.name)

    def tearDown(self):
        self.dir.cleanup()

    def mint(self, claims, *extra):
        return rw.run("token", "mint", "--keys", self.keys, "--claims", json.dumps(claims),
                      *extra, check=0).stdout.strip()

    def test_keygen_prints_a_private_jwks_for_every_algorithm(self):
        expected = {"EdDSA": ("OKP", "d"), "ES256": ("EC", "d"), "RS256": ("RSA", "d"),
                    "PS256": ("RSA", "d"), "HS256": ("oct", "k")}
        for alg, (kty, secret_member) in expected.items():
            with self.subTest(alg=alg):
                _, jwks = rw.keygen(alg, f"k-{alg}", self.dir.name)
                key = jwks["keys"][0]
                self.assertEqual(key["kty"], kty)
                self.assertEqual(key["alg"], alg)
                self.assertEqual(key["kid"], f"k-{alg}")
                self.assertIn(secret_member, key)

    def test_keygen_without_kid_uses_a_thumbprint(self):
        jwks = json.loads(rw.run("keygen", "--alg", "EdDSA", check=0).stdout)
        self.assertEqual(len(jwks["keys"][0]["kid"]), 43)  # base64url SHA-256

    def test_keygen_rejects_unknown_algorithms(self):
        proc = rw.run("keygen", "--alg", "none", check=2)
        self.assertIn("unsupported --alg", proc.stderr)

    def test_mint_then_verify_prints_the_claims(self):
        token = self.mint({"iss": ISSUER, "sub": "alice", "aud": "api"}, "--ttl", "120")
        proc = rw.run("token", "verify", "--keys", self.keys, "--issuer", ISSUER, "--audience",
                      "api", token, check=0)
        claims = json.loads(proc.stdout)
        self.assertEqual(claims["sub"], "alice")
        self.assertAlmostEqual(claims["exp"] - claims["iat"], 120, delta=1)
        self.assertIn("jti", claims)

    def test_verify_reads_the_token_from_stdin(self):
        token = self.mint({"iss": ISSUER, "sub": "alice"})
        proc = rw.run("token", "verify", "--keys", self.keys, "--issuer", ISSUER, "-",
                      stdin=token + "\n", check=0)
        self.assertEqual(json.loads(proc.stdout)["sub"], "alice")

    def test_verify_reports_the_reason_and_exits_1(self):
        token = self.mint({"iss": ISSUER, "sub": "alice", "aud": "api"}, "--ttl", "60")
        cases = [
            (["--issuer", "https://other.example"], token, "wrong_issuer"),
            (["--issuer", ISSUER, "--audience", "other"], token, "wrong_audience"),
            (["--issuer", ISSUER, "--now", str(int(time.time()) + 3600)], token, "expired"),
            (["--issuer", ISSUER], token[:-2] + ("AA" if token[-2:] != "AA" else "BA"),
             "bad_signature"),
            (["--issuer", ISSUER], token + ".x", "malformed"),
        ]
        for options, jwt, reason in cases:
            with self.subTest(reason=reason):
                proc = rw.run("token", "verify", "--keys", self.keys, *options, jwt, check=1)
                self.assertEqual(proc.stdout, "")
                self.assertIn(reason, proc.stderr)

    def test_leeway_is_applied(self):
        now = int(time.time())
        token = self.mint({"iss": ISSUER, "sub": "a", "exp": now + 10})
        rw.run("token", "verify", "--keys", self.keys, "--issuer", ISSUER, "--now",
               str(now + 20), "--leeway", "30", token, check=0)
        rw.run("token", "verify", "--keys", self.keys, "--issuer", ISSUER, "--now",
               str(now + 20), "--leeway", "0", token, check=1)

    def test_access_token_profile(self):
        full = {"iss": ISSUER, "sub": "alice", "aud": "api", "client_id": "c1"}
        token = self.mint(full)
        rw.run("token", "verify", "--keys", self.keys, "--issuer", ISSUER, "--access-token",
               token, check=0)
        plain = self.mint(full, "--typ", "JWT")
        proc = rw.run("token", "verify", "--keys", self.keys, "--issuer", ISSUER,
                      "--access-token", plain, check=1)
        self.assertIn("wrong_type", proc.stderr)
        partial = self.mint({"iss": ISSUER, "sub": "alice", "aud": "api"})
        proc = rw.run("token", "verify", "--keys", self.keys, "--issuer", ISSUER,
                      "--access-token", partial, check=1)
        self.assertIn("missing_claim", proc.stderr)

    def test_verify_with_the_public_key_set_only(self):
        token = self.mint({"iss": ISSUER, "sub": "alice"})
        public = {"keys": [{k: v for k, v in self.jwks["keys"][0].items() if k != "d"}]}
        path = os.path.join(self.dir.name, "public.json")
        with open(path, "w") as f:
            json.dump(public, f)
        rw.run("token", "verify", "--keys", path, "--issuer", ISSUER, token, check=0)
        proc = rw.run("token", "mint", "--keys", path, "--claims", "{}", check=1)
        self.assertIn("no private key", proc.stderr)

    def test_mint_rejects_bad_claims(self):
        for claims, message in [("[1]", "object"), ('{"a":1,"a":2}', "duplicate"),
                                ("{", "malformed")]:
            with self.subTest(claims=claims):
                proc = rw.run("token", "mint", "--keys", self.keys, "--claims", claims, check=1)
                self.assertIn(message, proc.stderr)

    def test_inspect_decodes_without_verifying(self):
        token = self.mint({"iss": ISSUER, "sub": "alice"})
        proc = rw.run("token", "inspect", token, check=0)
        self.assertIn("NOT VERIFIED", proc.stderr)
        out = json.loads(proc.stdout)
        self.assertFalse(out["verified"])
        self.assertEqual(out["header"]["kid"], "ed-1")
        self.assertEqual(out["claims"]["sub"], "alice")
        rw.run("token", "inspect", "not-a-token", check=1)

    def test_bad_key_file_is_named(self):
        path = os.path.join(self.dir.name, "broken.json")
        with open(path, "w") as f:
            f.write('{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}')
        proc = rw.run("token", "verify", "--keys", path, "--issuer", ISSUER, "a.b.c", check=2)
        self.assertIn(path, proc.stderr)
        proc = rw.run("token", "verify", "--keys", path + ".missing", "--issuer", ISSUER, "a.b.c",
                      check=2)
        self.assertIn(path + ".missing", proc.stderr)

    def test_usage_errors_exit_2(self):
        rw.run("frobnicate", check=2)
        rw.run("token", "verify", "--keys", self.keys, check=2)
        rw.run("token", "verify", "--keys", self.keys, "a.b.c", check=2)  # no issuer
        rw.run("token", "mint", "--keys", self.keys, "--claims", "{}", "--ttl", "-5", check=2)


if __name__ == "__main__":
    rw.main(globals())
