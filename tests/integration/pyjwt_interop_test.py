#!/usr/bin/python3
"""Interoperability with PyJWT (Debian's python3-jwt), for every algorithm, both ways.

ringward mints -> PyJWT verifies with the public JWK; PyJWT mints with the private JWK ->
`ringward token verify` accepts it. Tampered tokens are refused by both.
"""
import json
import os
import sys
import tempfile
import time
import unittest

import jwt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ringward_cli as rw  # noqa: E402

ISSUER = "https://issuer.example"
AUDIENCE = "edge-api"
ALGORITHMS = ["EdDSA", "ES256", "RS256", "PS256", "HS256"]


def public_jwk(jwk):
    private = {"d", "p", "q", "dp", "dq", "qi"}
    return {k: v for k, v in jwk.items() if k not in private}


class PyJwtInteropTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def claims(self, alg):
        now = int(time.time())
        return {"iss": ISSUER, "sub": f"user-{alg}", "aud": AUDIENCE, "iat": now, "exp": now + 600,
                "jti": f"jti-{alg}", "client_id": "interop", "scope": "read write"}

    def test_ringward_tokens_verify_with_pyjwt(self):
        for alg in ALGORITHMS:
            with self.subTest(alg=alg):
                path, jwks = rw.keygen(alg, f"kid-{alg}", self.dir.name)
                token = rw.run("token", "mint", "--keys", path, "--claims",
                               json.dumps(self.claims(alg)), check=0).stdout.strip()
                jwk = jwks["keys"][0]
                # HS256 keys are secrets: PyJWT needs the key itself; others get only public parts.
                key = jwt.PyJWK(jwk if alg == "HS256" else public_jwk(jwk)).key
                decoded = jwt.decode(token, key, algorithms=[alg], audience=AUDIENCE,
                                     issuer=ISSUER)
                self.assertEqual(decoded["sub"], f"user-{alg}")
                header = jwt.get_unverified_header(token)
                self.assertEqual(header["alg"], alg)
                self.assertEqual(header["kid"], f"kid-{alg}")
                self.assertEqual(header["typ"], "at+jwt")
                tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
                with self.assertRaises(jwt.InvalidTokenError):
                    jwt.decode(tampered, key, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER)

    def test_pyjwt_tokens_verify_with_ringward(self):
        for alg in ALGORITHMS:
            with self.subTest(alg=alg):
                path, jwks = rw.keygen(alg, f"kid-{alg}", self.dir.name)
                jwk = jwks["keys"][0]
                key = jwt.PyJWK(jwk).key
                token = jwt.encode(self.claims(alg), key, algorithm=alg,
                                   headers={"kid": f"kid-{alg}", "typ": "at+jwt"})
                # Verify against the public key set only (for HS256, the secret itself).
                public_path = os.path.join(self.dir.name, f"public-{alg}.json")
                with open(public_path, "w") as f:
                    json.dump({"keys": [jwk if alg == "HS256" else public_jwk(jwk)]}, f)
                proc = rw.run("token", "verify", "--keys", public_path, "--issuer", ISSUER,
                              "--audience", AUDIENCE, "--access-token", token, check=0)
                self.assertEqual(json.loads(proc.stdout)["sub"], f"user-{alg}")
                # A token PyJWT signed with another key of the same kind is refused.
                other_dir = os.path.join(self.dir.name, f"other-{alg}")
                os.makedirs(other_dir)
                _, other = rw.keygen(alg, f"kid-{alg}", other_dir)
                other_key = jwt.PyJWK(other["keys"][0]).key
                forged = jwt.encode(self.claims(alg), other_key, algorithm=alg,
                                    headers={"kid": f"kid-{alg}", "typ": "at+jwt"})
                proc = rw.run("token", "verify", "--keys", public_path, "--issuer", ISSUER,
                              "--audience", AUDIENCE, forged, check=1)
                self.assertIn("bad_signature", proc.stderr)

    def test_pyjwt_hs256_with_public_key_as_secret_is_refused(self):
        # The classic algorithm-confusion attack: sign HS256 with the RSA public key's bytes.
        path, jwks = rw.keygen("RS256", "rsa-1", self.dir.name)
        public = public_jwk(jwks["keys"][0])
        public_path = os.path.join(self.dir.name, "public.json")
        with open(public_path, "w") as f:
            json.dump({"keys": [public]}, f)
        secret = json.dumps(public).encode()
        token = jwt.encode(self.claims("RS256"), secret, algorithm="HS256",
                           headers={"kid": "rsa-1"})
        proc = rw.run("token", "verify", "--keys", public_path, "--issuer", ISSUER, token, check=1)
        self.assertIn("alg_mismatch", proc.stderr)

    def test_pyjwt_unsecured_token_is_refused(self):
        path, _ = rw.keygen("EdDSA", "ed-1", self.dir.name)
        token = jwt.encode(self.claims("none"), None, algorithm="none", headers={"kid": "ed-1"})
        proc = rw.run("token", "verify", "--keys", path, "--issuer", ISSUER, token, check=1)
        # Either the empty signature segment or the alg is refused; never accepted.
        self.assertRegex(proc.stderr, "malformed|unsupported_algorithm")


if __name__ == "__main__":
    rw.main(globals())
