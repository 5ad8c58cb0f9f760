#!/usr/bin/python3
"""OAuth 2.0 issuance end to end with the real binary and independent clients (requests, PyJWT,
cryptography, curl): discovery (RFC 8414, OpenID) and a JWKS that PyJWT verifies issued tokens
with; client_credentials with client_secret_basic, client_secret_post and private_key_jwt (RFC
7523: single-use jti, audience checked); the password grant with refresh-token rotation and
reuse detection; token exchange (RFC 8693) of id_tokens from trusted identity providers; every
RFC 6749 §5.2 error; revocation (RFC 7009) and introspection (RFC 7662); and the admin CLI
(`ringward client`, `ringward user`, `ringward keys`).

Everything stays on 127.0.0.1 and every wait is bounded."""
import base64
import json
import os
import subprocess
import sys
import time
import unittest
import urllib.parse
import uuid

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ringward_admin as ra  # noqa: E402
import ringward_cli as rw  # noqa: E402
import ringward_server as rs  # noqa: E402

TOKEN_PATH = "/oauth2/token"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
# A cheap Argon2id for the shared server (the CLI test's server keeps the default cost).
FAST_ARGON2 = {"argon2_memory_kib": 1024, "argon2_iterations": 1}
ACCESS_TTL = 600
# Content-Type values that do not make a body a form (None: no Content-Type header).
NOT_A_FORM = ("text/plain", "application/json", "multipart/form-data", None)

# The external identity providers of the token exchange tests: one with RS256 keys and the
# default subject prefix ("<issuer>|"), one with EdDSA keys and its own prefix.
IDP = "https://idp.example"
IDP_AUDIENCE = "ringward"
SOCIAL = "https://social.example"
SOCIAL_PREFIX = "social:"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_uint(n):
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def ed25519_jwk(private_key, kid):
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw), "kid": kid, "alg": "EdDSA",
            "use": "sig"}


def rsa_jwk(private_key, kid):
    numbers = private_key.public_key().public_numbers()
    return {"kty": "RSA", "n": b64url_uint(numbers.n), "e": b64url_uint(numbers.e), "kid": kid,
            "alg": "RS256", "use": "sig"}


def start_issuance_server(shards=2, issuance=None, before_start=None):
    """An AdminServer with [issuance] on a pre-picked TLS port (base_url must name it).
    before_start(server) may write files and set trusted_issuer_options. Retried when the port
    was taken in the meantime."""
    for attempt in range(3):
        port = rs.free_port()
        options = {"enabled": True, "issuer": rs.ISSUER,
                   "base_url": f"https://127.0.0.1:{port}", "audiences": [rs.AUDIENCE],
                   "access_token_ttl_s": ACCESS_TTL}
        options.update(issuance or {})
        server = ra.AdminServer(shards=shards, listen=[f"127.0.0.1:{port}"], issuance=options)
        if before_start is not None:
            before_start(server)
        server.write_config()
        try:
            return server.start()
        except AssertionError:
            log = server.log_text()
            server.close()
            if attempt == 2 or "in use" not in log.lower():
                raise
    raise AssertionError("unreachable")


class IssuanceClient:
    """Requests against one issuance server (TLS verified against its certificate)."""

    def __init__(self, server):
        self.s = server
        self.base = f"https://127.0.0.1:{server.https_port}"

    def admin(self, method, path, body=None, expect=None):
        r = requests.request(method, self.s.admin_url(path), json=body, headers=self.s.auth(),
                             timeout=10)
        if expect is not None and r.status_code != expect:
            raise AssertionError(f"{method} {path}: HTTP {r.status_code}, expected {expect}: "
                                 f"{r.text}")
        return r

    def create_client(self, grant_types=("client_credentials",), scope="read write", **extra):
        body = {"client_id": extra.pop("client_id", "c-" + uuid.uuid4().hex[:10]),
                "grant_types": list(grant_types), "scope": scope}
        body.update(extra)
        r = self.admin("POST", "/admin/clients", body, expect=201)
        return r.json()["client_id"], r.json().get("client_secret")

    def create_user(self, username, password, scope):
        self.admin("POST", "/admin/users",
                   {"username": username, "password": password, "scope": scope}, expect=201)

    def post(self, path, data, auth=None, headers=None):
        return requests.post(self.base + path, data=data, auth=auth, headers=headers,
                             verify=self.s.cert, timeout=10)

    def token(self, data, auth=None, headers=None):
        return self.post(TOKEN_PATH, data, auth, headers)

    def verify(self, access_token):
        return requests.get(self.base + "/v1/verify",
                            headers={"Authorization": f"Bearer {access_token}"},
                            verify=self.s.cert, timeout=10)

    def discovery_verify(self, access_token, audience=rs.AUDIENCE):
        """Verifies |access_token| with PyJWT knowing only the discovery document: its issuer
        and the keys at its jwks_uri. Returns the claims."""
        config = requests.get(self.base + "/.well-known/openid-configuration",
                              verify=self.s.cert, timeout=10).json()
        jwks = requests.get(config["jwks_uri"], verify=self.s.cert, timeout=10).json()
        header = jwt.get_unverified_header(access_token)
        matching = [k for k in jwks["keys"] if k.get("kid") == header["kid"]]
        if len(matching) != 1:
            raise AssertionError(f"kid {header['kid']} is in the JWKS {len(matching)} times")
        key = jwt.PyJWK(matching[0])
        claims = jwt.decode(access_token, key.key, algorithms=["EdDSA"], audience=audience,
                            issuer=config["issuer"],
                            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})
        if header.get("typ") != "at+jwt":
            raise AssertionError(f"typ is {header.get('typ')!r}, not at+jwt (RFC 9068 §2.1)")
        return claims


class OAuthAssertions:
    """assert_* helpers for OAuth answers; mixed into the TestCases."""

    def assert_no_store(self, r):
        self.assertEqual(r.headers.get("Cache-Control"), "no-store", r.headers)

    def assert_tokens(self, r):
        """A successful token answer (RFC 6749 §5.1); returns its JSON."""
        self.assertEqual(r.status_code, 200, r.text)
        self.assert_no_store(r)
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
        body = r.json()
        self.assertEqual(body["token_type"], "Bearer")
        self.assertIsInstance(body["access_token"], str)
        self.assertGreater(body["expires_in"], 0)
        self.assertLessEqual(body["expires_in"], ACCESS_TTL)
        return body

    def assert_oauth_error(self, r, status, error, description=None):
        """An RFC 6749 §5.2 error answer; returns its JSON."""
        self.assertEqual(r.status_code, status, r.text)
        self.assert_no_store(r)
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"), r.headers)
        body = r.json()
        self.assertEqual(body["error"], error, body)
        self.assertIsInstance(body.get("error_description", ""), str)
        if description is not None:
            self.assertIn(description, body.get("error_description", ""))
        return body


class IssuanceTest(unittest.TestCase, OAuthAssertions):
    @classmethod
    def setUpClass(cls):
        cls.idp_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cls.social_key = Ed25519PrivateKey.generate()

        def trusted_issuers(server):
            idp_jwks = os.path.join(server.dir, "idp-jwks.json")
            with open(idp_jwks, "w") as f:
                json.dump({"keys": [rsa_jwk(cls.idp_key, "idp-1")]}, f)
            social_jwks = os.path.join(server.dir, "social-jwks.json")
            with open(social_jwks, "w") as f:
                json.dump({"keys": [ed25519_jwk(cls.social_key, "social-1")]}, f)
            server.trusted_issuer_options = [
                {"issuer": IDP, "jwks": idp_jwks, "audiences": [IDP_AUDIENCE],
                 "scopes": ["read"]},
                {"issuer": SOCIAL, "jwks": social_jwks, "audiences": [],
                 "subject_prefix": SOCIAL_PREFIX, "scopes": ["read", "write"]},
            ]

        # A high per-IP failure limit: this class fails logins on purpose, from one address.
        cls.server = start_issuance_server(
            issuance=dict(FAST_ARGON2, ip_max_failures=1000), before_start=trusted_issuers)
        cls.c = IssuanceClient(cls.server)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        log = cls.server.log_text()
        cls.server.close()
        assert code == 0, f"exit code {code}\n{log}"

    # -- discovery -----------------------------------------------------------------------------
    def test_discovery_documents(self):
        base = self.c.base
        for path in ("/.well-known/oauth-authorization-server",
                     "/.well-known/openid-configuration"):
            r = requests.get(base + path, verify=self.server.cert, timeout=10)
            self.assertEqual(r.status_code, 200, path)
            meta = r.json()
            self.assertEqual(meta["issuer"], rs.ISSUER)
            self.assertEqual(meta["token_endpoint"], base + TOKEN_PATH)
            self.assertEqual(meta["jwks_uri"], base + "/.well-known/jwks.json")
            self.assertEqual(meta["revocation_endpoint"], base + "/oauth2/revoke")
            self.assertEqual(meta["introspection_endpoint"], base + "/oauth2/introspect")
            self.assertEqual(set(meta["grant_types_supported"]),
                             {"client_credentials", "password", "refresh_token", TOKEN_EXCHANGE})
            self.assertEqual(set(meta["token_endpoint_auth_methods_supported"]),
                             {"client_secret_basic", "client_secret_post", "private_key_jwt"})
            self.assertIn("EdDSA", meta["token_endpoint_auth_signing_alg_values_supported"])
            self.assertEqual(meta["response_types_supported"], [])
        self.assertEqual(meta["id_token_signing_alg_values_supported"], ["EdDSA"])
        # The JWKS holds the active and the next issuance key (publish before use).
        jwks = requests.get(base + "/.well-known/jwks.json", verify=self.server.cert,
                            timeout=10).json()
        kids = {k["kid"] for k in jwks["keys"]}
        keys = self.c.admin("GET", "/admin/keys", expect=200).json()["keys"]
        self.assertEqual(sorted(k["state"] for k in keys), ["active", "next"])
        for k in keys:
            self.assertIn(k["kid"], kids)

    # -- client_credentials --------------------------------------------------------------------
    def test_client_credentials_with_client_secret_basic(self):
        client_id, secret = self.c.create_client(scope="read write")
        body = self.assert_tokens(self.c.token({"grant_type": "client_credentials"},
                                               auth=(client_id, secret)))
        self.assertEqual(body["scope"], "read write")
        self.assertNotIn("refresh_token", body)  # never for client_credentials
        claims = self.c.discovery_verify(body["access_token"])
        self.assertEqual(claims["iss"], rs.ISSUER)
        self.assertEqual(claims["aud"], rs.AUDIENCE)
        self.assertEqual(claims["sub"], client_id)
        self.assertEqual(claims["client_id"], client_id)
        self.assertEqual(claims["scope"], "read write")
        self.assertEqual(claims["exp"] - claims["iat"], ACCESS_TTL)
        self.assertLessEqual(abs(claims["iat"] - time.time()), 60)
        self.assertNotIn("auth_time", claims)
        active = [k["kid"] for k in self.c.admin("GET", "/admin/keys").json()["keys"]
                  if k["state"] == "active"]
        self.assertEqual(jwt.get_unverified_header(body["access_token"])["kid"], active[0])

        r = self.c.verify(body["access_token"])
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.headers["X-Auth-Subject"], client_id)
        self.assertEqual(r.headers["X-Auth-Client"], client_id)
        self.assertEqual(r.headers["X-Auth-Scope"], "read write")

        # curl, the other everyday client: Basic credentials and a form, over verified TLS.
        proc = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", self.server.cert,
                               "-u", f"{client_id}:{secret}", "-d", "grant_type=client_credentials",
                               "-d", "scope=read", self.c.base + TOKEN_PATH],
                              capture_output=True, text=True, timeout=20)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        curl_body = json.loads(proc.stdout)
        self.assertEqual(curl_body["scope"], "read")
        self.assertEqual(self.c.discovery_verify(curl_body["access_token"])["scope"], "read")

    def test_client_credentials_with_client_secret_post(self):
        client_id, secret = self.c.create_client(scope="read write",
                                                 token_endpoint_auth_method="client_secret_post")
        body = self.assert_tokens(self.c.token({"grant_type": "client_credentials",
                                                "client_id": client_id, "client_secret": secret,
                                                "scope": "read"}))
        self.assertEqual(body["scope"], "read")
        claims = self.c.discovery_verify(body["access_token"])
        self.assertEqual((claims["sub"], claims["client_id"], claims["scope"]),
                         (client_id, client_id, "read"))
        r = self.c.verify(body["access_token"])
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.headers["X-Auth-Scope"], "read")
        # A client's own token lifetime and audience.
        own = self.c.create_client(scope="read", access_token_ttl_s=120, audiences=["other-api"])
        body = self.assert_tokens(self.c.token({"grant_type": "client_credentials"}, auth=own))
        self.assertEqual(body["expires_in"], 120)
        claims = self.c.discovery_verify(body["access_token"], audience="other-api")
        self.assertEqual(claims["exp"] - claims["iat"], 120)
        # Registered for client_secret_post: HTTP Basic is refused (RFC 7591 §2).
        self.assert_oauth_error(self.c.token({"grant_type": "client_credentials"},
                                             auth=(client_id, secret)), 401, "invalid_client")

    def test_basic_credentials_are_form_urlencoded(self):
        # RFC 6749 §2.3.1: id and secret are form-urlencoded before base64, and a form encoder
        # may escape '~' (WHATWG's does): the server decodes before comparing.
        client_id, secret = self.c.create_client(client_id="team.svc~1")
        for encoded in ("team.svc~1", "team.svc%7E1", "team%2Esvc%7e1"):
            body = self.assert_tokens(self.c.token({"grant_type": "client_credentials"},
                                                   auth=(encoded, secret)))
            self.assertEqual(self.c.discovery_verify(body["access_token"])["sub"], client_id)
        self.assert_oauth_error(self.c.token({"grant_type": "client_credentials"},
                                             auth=("team.svc%7F1", secret)), 401,
                                "invalid_client")

    # -- private_key_jwt -----------------------------------------------------------------------
    def assertion(self, key, client_id, aud, kid="pkj-1", jti=None, exp_in=60):
        now = int(time.time())
        return jwt.encode({"iss": client_id, "sub": client_id, "aud": aud, "iat": now,
                           "exp": now + exp_in, "jti": jti or uuid.uuid4().hex},
                          key, algorithm="EdDSA", headers={"kid": kid})

    def assertion_form(self, assertion):
        return {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER,
                "client_assertion": assertion}

    def test_private_key_jwt(self):
        key = Ed25519PrivateKey.generate()
        client_id, secret = self.c.create_client(
            scope="read", token_endpoint_auth_method="private_key_jwt",
            jwks={"keys": [ed25519_jwk(key, "pkj-1")]})
        self.assertIsNone(secret)
        endpoint = requests.get(self.c.base + "/.well-known/oauth-authorization-server",
                                verify=self.server.cert, timeout=10).json()["token_endpoint"]

        assertion = self.assertion(key, client_id, endpoint)
        body = self.assert_tokens(self.c.token(self.assertion_form(assertion)))
        claims = self.c.discovery_verify(body["access_token"])
        self.assertEqual((claims["sub"], claims["client_id"]), (client_id, client_id))
        self.assertEqual(self.c.verify(body["access_token"]).headers["X-Auth-Client"], client_id)

        # The same assertion again: its jti is spent (RFC 7523 §3, item 7).
        self.assert_oauth_error(self.c.token(self.assertion_form(assertion)), 401,
                                "invalid_client")
        # Another audience.
        wrong_aud = self.assertion(key, client_id, "https://elsewhere.example/oauth2/token")
        self.assert_oauth_error(self.c.token(self.assertion_form(wrong_aud)), 401,
                                "invalid_client")
        # Signed by a key the client did not register (same kid).
        stranger = self.assertion(Ed25519PrivateKey.generate(), client_id, endpoint)
        self.assert_oauth_error(self.c.token(self.assertion_form(stranger)), 401,
                                "invalid_client")
        # Expired, or valid for more than an hour.
        expired = self.assertion(key, client_id, endpoint, exp_in=-120)
        self.assert_oauth_error(self.c.token(self.assertion_form(expired)), 401, "invalid_client")
        too_long = self.assertion(key, client_id, endpoint, exp_in=7200)
        self.assert_oauth_error(self.c.token(self.assertion_form(too_long)), 401,
                                "invalid_client")
        # The issuer is an accepted audience as well; a fresh jti works again.
        self.assert_tokens(self.c.token(self.assertion_form(
            self.assertion(key, client_id, rs.ISSUER))))

    # -- password and refresh_token ------------------------------------------------------------
    def password_client(self, grants=("password", "refresh_token"), scope="read write profile"):
        return self.c.create_client(grant_types=grants, scope=scope)

    def test_password_grant_and_refresh_rotation_with_reuse_detection(self):
        client = self.password_client()
        self.c.create_user("alice", "correct horse battery", "read profile")
        body = self.assert_tokens(self.c.token(
            {"grant_type": "password", "username": "alice", "password": "correct horse battery"},
            auth=client))
        refresh1 = body["refresh_token"]
        # Nothing requested: everything both the client and the user may have.
        self.assertEqual(set(body["scope"].split()), {"read", "profile"})
        claims = self.c.discovery_verify(body["access_token"])
        self.assertEqual((claims["sub"], claims["client_id"]), ("alice", client[0]))
        self.assertLessEqual(abs(claims["auth_time"] - time.time()), 60)
        r = self.c.verify(body["access_token"])
        self.assertEqual((r.status_code, r.headers["X-Auth-Subject"]), (200, "alice"))

        # Rotation: each use answers a new refresh token; the login time is kept.
        second = self.assert_tokens(self.c.token(
            {"grant_type": "refresh_token", "refresh_token": refresh1}, auth=client))
        refresh2 = second["refresh_token"]
        self.assertNotEqual(refresh2, refresh1)
        claims2 = self.c.discovery_verify(second["access_token"])
        self.assertEqual(claims2["sub"], "alice")
        self.assertEqual(claims2["auth_time"], claims["auth_time"])
        self.assertNotEqual(claims2["jti"], claims["jti"])
        third = self.assert_tokens(self.c.token(
            {"grant_type": "refresh_token", "refresh_token": refresh2}, auth=client))
        refresh3 = third["refresh_token"]
        self.assertNotIn(refresh3, (refresh1, refresh2))

        # Another client cannot use alice's refresh token (RFC 6749 §6).
        other = self.password_client()
        self.assert_oauth_error(self.c.token(
            {"grant_type": "refresh_token", "refresh_token": refresh3}, auth=other), 400,
            "invalid_grant")

        # Reuse of a rotated token: refused, and the whole family with it (RFC 9700 §4.14.2).
        reuses = self.metric("ringward_refresh_token_reuse_total") or 0
        self.assert_oauth_error(self.c.token(
            {"grant_type": "refresh_token", "refresh_token": refresh1}, auth=client), 400,
            "invalid_grant")
        self.assert_oauth_error(self.c.token(
            {"grant_type": "refresh_token", "refresh_token": refresh3}, auth=client), 400,
            "invalid_grant")
        self.assertEqual(self.metric("ringward_refresh_token_reuse_total"), reuses + 1)

    def metric(self, series):
        r = self.c.admin("GET", "/metrics", expect=200)
        return rs.metric_value(r.text, series)

    def test_password_grant_scope_and_refresh_permission(self):
        self.c.create_user("bob", "bobs password", "read")
        # Only the password grant: no refresh token.
        client = self.password_client(grants=("password",), scope="read write")
        body = self.assert_tokens(self.c.token(
            {"grant_type": "password", "username": "bob", "password": "bobs password"},
            auth=client))
        self.assertNotIn("refresh_token", body)
        self.assertEqual(body["scope"], "read")
        # The client may ask for write, the user may not have it.
        self.assert_oauth_error(self.c.token(
            {"grant_type": "password", "username": "bob", "password": "bobs password",
             "scope": "write"}, auth=client), 400, "invalid_scope")

    # -- token exchange ------------------------------------------------------------------------
    def external_token(self, key, alg, kid, iss=IDP, aud=IDP_AUDIENCE, sub="10769150350006150715",
                       exp_in=300):
        now = int(time.time())
        claims = {"iss": iss, "sub": sub, "iat": now, "exp": now + exp_in}
        if aud is not None:
            claims["aud"] = aud
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})

    def exchange(self, client, subject_token, token_type=ID_TOKEN_TYPE, **extra):
        form = {"grant_type": TOKEN_EXCHANGE, "subject_token": subject_token,
                "subject_token_type": token_type}
        form.update(extra)
        return self.c.token(form, auth=client)

    def test_token_exchange_of_a_trusted_id_token(self):
        client = self.c.create_client(grant_types=(TOKEN_EXCHANGE,), scope="read write")
        id_token = self.external_token(self.idp_key, "RS256", "idp-1")
        body = self.assert_tokens(self.exchange(client, id_token))
        self.assertEqual(body["issued_token_type"], ACCESS_TOKEN_TYPE)
        claims = self.c.discovery_verify(body["access_token"])
        self.assertEqual(claims["sub"], IDP + "|10769150350006150715")
        self.assertEqual(claims["client_id"], client[0])
        self.assertEqual(claims["scope"], "read")  # the provider's scopes only
        r = self.c.verify(body["access_token"])
        self.assertEqual((r.status_code, r.headers["X-Auth-Subject"]),
                         (200, IDP + "|10769150350006150715"))
        self.assert_oauth_error(self.exchange(client, id_token, scope="write"), 400,
                                "invalid_scope")

        # A provider with its own prefix, EdDSA keys and no audience check.
        social = self.external_token(self.social_key, "EdDSA", "social-1", iss=SOCIAL, aud=None,
                                     sub="u-42")
        body = self.assert_tokens(self.exchange(client, social, token_type=
                                                "urn:ietf:params:oauth:token-type:jwt",
                                                scope="write"))
        claims = self.c.discovery_verify(body["access_token"])
        self.assertEqual((claims["sub"], claims["scope"]), (SOCIAL_PREFIX + "u-42", "write"))

    def test_token_exchange_refuses_untrusted_tokens(self):
        client = self.c.create_client(grant_types=(TOKEN_EXCHANGE,), scope="read")
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cases = {
            "untrusted key, trusted kid": self.external_token(stranger, "RS256", "idp-1"),
            "untrusted issuer": self.external_token(self.idp_key, "RS256", "idp-1",
                                                    iss="https://evil.example"),
            "wrong audience": self.external_token(self.idp_key, "RS256", "idp-1", aud="other"),
            "expired": self.external_token(self.idp_key, "RS256", "idp-1", exp_in=-300),
            "one provider's key for another's issuer": self.external_token(
                self.social_key, "EdDSA", "social-1", iss=IDP),
        }
        for name, subject_token in cases.items():
            with self.subTest(name):
                self.assert_oauth_error(self.exchange(client, subject_token), 400,
                                        "invalid_grant")
        # A client without the grant.
        plain = self.c.create_client()
        self.assert_oauth_error(
            self.exchange(plain, self.external_token(self.idp_key, "RS256", "idp-1")), 400,
            "unauthorized_client")

    # -- RFC 6749 §5.2 errors ------------------------------------------------------------------
    def test_every_token_endpoint_error(self):
        client_id, secret = self.c.create_client(scope="read")
        basic = (client_id, secret)
        self.c.create_user("carol", "carols password", "read")
        pw_client = self.password_client()
        form = "application/x-www-form-urlencoded"

        with self.subTest("invalid_request: no grant_type"):
            self.assert_oauth_error(self.c.token({"scope": "read"}, auth=basic), 400,
                                    "invalid_request")
        with self.subTest("invalid_request: a parameter twice"):
            self.assert_oauth_error(self.c.token(
                "grant_type=client_credentials&scope=read&scope=read", auth=basic,
                headers={"Content-Type": form}), 400, "invalid_request")
        with self.subTest("invalid_request: a form body that is not labelled as one"):
            # (The password grant, answered by the issuance workers; for client_credentials,
            # answered on the shards, see test_client_credentials_checks_the_content_type.)
            login = "grant_type=password&username=carol&password=carols+password"
            for content_type in NOT_A_FORM:
                headers = {} if content_type is None else {"Content-Type": content_type}
                self.assert_oauth_error(self.c.token(login, auth=pw_client, headers=headers),
                                        400, "invalid_request", "x-www-form-urlencoded")
            # ... whereas a charset parameter is fine (many HTTP libraries add one).
            self.assert_tokens(self.c.token(login, auth=pw_client, headers={
                "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}))
        with self.subTest("invalid_request: malformed form"):
            self.assert_oauth_error(self.c.token("grant_type=client%ZZcredentials", auth=basic,
                                                 headers={"Content-Type": form}), 400,
                                    "invalid_request")
        with self.subTest("invalid_request: two client authentication methods"):
            self.assert_oauth_error(self.c.token(
                {"grant_type": "client_credentials", "client_id": client_id,
                 "client_secret": secret}, auth=basic), 400, "invalid_request")
        with self.subTest("invalid_client: wrong secret with Basic"):
            r = self.c.token({"grant_type": "client_credentials"}, auth=(client_id, "wrong"))
            self.assert_oauth_error(r, 401, "invalid_client")
            self.assertTrue(r.headers.get("WWW-Authenticate", "").startswith("Basic "),
                            r.headers)
        with self.subTest("invalid_client: unknown client in the body"):
            self.assert_oauth_error(self.c.token(
                {"grant_type": "client_credentials", "client_id": "nobody",
                 "client_secret": "whatever"}), 401, "invalid_client")
        with self.subTest("invalid_client: no client authentication"):
            self.assert_oauth_error(self.c.token({"grant_type": "client_credentials"}), 401,
                                    "invalid_client")
        with self.subTest("invalid_grant: wrong password"):
            self.assert_oauth_error(self.c.token(
                {"grant_type": "password", "username": "carol", "password": "not carols"},
                auth=pw_client), 400, "invalid_grant")
        with self.subTest("invalid_grant: unknown user"):
            self.assert_oauth_error(self.c.token(
                {"grant_type": "password", "username": "nobody", "password": "x"},
                auth=pw_client), 400, "invalid_grant")
        with self.subTest("invalid_grant: unknown refresh token"):
            self.assert_oauth_error(self.c.token(
                {"grant_type": "refresh_token", "refresh_token": "not-a-refresh-token"},
                auth=pw_client), 400, "invalid_grant")
        with self.subTest("unauthorized_client: grant not allowed"):
            self.assert_oauth_error(self.c.token(
                {"grant_type": "password", "username": "carol", "password": "carols password"},
                auth=basic), 400, "unauthorized_client")
            self.assert_oauth_error(self.c.token({"grant_type": "client_credentials"},
                                                 auth=pw_client), 400, "unauthorized_client")
        with self.subTest("unsupported_grant_type"):
            self.assert_oauth_error(self.c.token(
                {"grant_type": "authorization_code", "code": "abc",
                 "redirect_uri": "https://app.example/cb"}, auth=basic), 400,
                "unsupported_grant_type")
        with self.subTest("invalid_scope"):
            self.assert_oauth_error(self.c.token(
                {"grant_type": "client_credentials", "scope": "read admin"}, auth=basic), 400,
                "invalid_scope")
        # After all that, the right password still works (carol is not locked: 1 failure).
        self.assert_tokens(self.c.token(
            {"grant_type": "password", "username": "carol", "password": "carols password"},
            auth=pw_client))

    def test_client_credentials_checks_the_content_type(self):
        basic = self.c.create_client(scope="read")
        for content_type in NOT_A_FORM:
            with self.subTest(content_type):
                headers = {} if content_type is None else {"Content-Type": content_type}
                self.assert_oauth_error(self.c.token("grant_type=client_credentials",
                                                     auth=basic, headers=headers), 400,
                                        "invalid_request")
        self.assert_tokens(self.c.token("grant_type=client_credentials", auth=basic, headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}))

    def test_pipelined_token_requests_are_answered_in_order(self):
        # Answers come from two places (client_credentials on the shard, the rest from the
        # issuance workers, later): on one keep-alive connection they must still come back in
        # request order (RFC 9112 §9.3.2).
        cc = self.c.create_client(scope="read")
        pw = self.password_client()
        self.c.create_user("pipe", "pipe password", "read")

        def request(auth, form):
            body = urllib.parse.urlencode(form).encode()
            credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            return (b"POST /oauth2/token HTTP/1.1\r\nHost: t\r\n"
                    b"Content-Type: application/x-www-form-urlencoded\r\n"
                    b"Authorization: Basic " + credentials.encode() + b"\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

        login = {"grant_type": "password", "username": "pipe", "password": "pipe password"}
        requests_in_order = [request(pw, login),
                             request(cc, {"grant_type": "client_credentials"}),
                             request(pw, dict(login, password="wrong")),
                             request(cc, {"grant_type": "client_credentials", "scope": "nope"}),
                             request(pw, login)]
        with self.server.connect(timeout=10) as conn:
            conn.send(b"".join(requests_in_order))
            answers = [conn.read_response() for _ in requests_in_order]
        got = [(status, json.loads(body).get("error")) for status, _, body in answers]
        self.assertEqual(got, [(200, None), (200, None), (400, "invalid_grant"),
                               (400, "invalid_scope"), (200, None)])
        subjects = [jwt.decode(json.loads(answers[i][2])["access_token"],
                               options={"verify_signature": False})["sub"] for i in (0, 1, 4)]
        self.assertEqual(subjects, ["pipe", cc[0], "pipe"])

    # -- revocation and introspection ----------------------------------------------------------
    def test_revoke_and_introspect(self):
        client = self.password_client()
        self.c.create_user("dave", "daves password", "read")
        tokens = self.assert_tokens(self.c.token(
            {"grant_type": "password", "username": "dave", "password": "daves password"},
            auth=client))
        access, refresh = tokens["access_token"], tokens["refresh_token"]

        # Unknown token: 200, nothing said (RFC 7009 §2.2).
        r = self.c.post("/oauth2/revoke", {"token": "no-such-token"}, auth=client)
        self.assertEqual(r.status_code, 200, r.text)
        # Revocation and introspection need client authentication.
        self.assert_oauth_error(self.c.post("/oauth2/revoke", {"token": access}), 401,
                                "invalid_client")
        self.assert_oauth_error(self.c.post("/oauth2/introspect", {"token": access}), 401,
                                "invalid_client")

        r = self.c.post("/oauth2/introspect", {"token": access}, auth=client)
        self.assertEqual(r.status_code, 200, r.text)
        info = r.json()
        self.assertIs(info["active"], True)
        self.assertEqual((info["sub"], info["client_id"], info["scope"], info["iss"]),
                         ("dave", client[0], "read", rs.ISSUER))
        self.assertGreater(info["exp"], time.time())
        r = self.c.post("/oauth2/introspect",
                        {"token": refresh, "token_type_hint": "refresh_token"}, auth=client)
        info = r.json()
        self.assertIs(info["active"], True, info)
        self.assertEqual(info["token_type"], "refresh_token")
        self.assertEqual((info["sub"], info["client_id"]), ("dave", client[0]))
        self.assertEqual(self.c.post("/oauth2/introspect", {"token": "garbage"},
                                     auth=client).json(), {"active": False})

        # Another client may not revoke dave's access token.
        other = self.password_client()
        r = self.c.post("/oauth2/revoke", {"token": access}, auth=other)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(self.c.verify(access).status_code, 200)

        # The access token, by its owner: /v1/verify and introspection agree at once.
        r = self.c.post("/oauth2/revoke", {"token": access, "token_type_hint": "access_token"},
                        auth=client)
        self.assertEqual(r.status_code, 200, r.text)
        self.assert_no_store(r)
        self.assertEqual(self.c.verify(access).status_code, 401)
        self.assertEqual(self.c.post("/oauth2/introspect", {"token": access},
                                     auth=client).json(), {"active": False})

        # Nor dave's refresh token (RFC 7009 §2.1: it was not issued to that client).
        r = self.c.post("/oauth2/revoke", {"token": refresh}, auth=other)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertIs(self.c.post("/oauth2/introspect", {"token": refresh},
                                  auth=client).json()["active"], True)

        # The refresh token: the grant fails from now on.
        r = self.c.post("/oauth2/revoke", {"token": refresh}, auth=client)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(self.c.post("/oauth2/introspect", {"token": refresh},
                                     auth=client).json(), {"active": False})
        self.assert_oauth_error(self.c.token(
            {"grant_type": "refresh_token", "refresh_token": refresh}, auth=client), 400,
            "invalid_grant")


class AdminCliTest(unittest.TestCase, OAuthAssertions):
    """`ringward client|user|keys` against a server with the default Argon2id cost."""

    @classmethod
    def setUpClass(cls):
        cls.server = start_issuance_server(shards=1)
        cls.c = IssuanceClient(cls.server)
        cls.admin_args = ["--admin", f"http://127.0.0.1:{cls.server.admin_port}",
                          "--token-file", cls.server.token_file]

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        log = cls.server.log_text()
        cls.server.close()
        assert code == 0, f"exit code {code}\n{log}"

    def cli(self, *args, stdin=None, check=0):
        return rw.run(*args[:2], *self.admin_args, *args[2:], stdin=stdin, check=check)

    def cli_json(self, *args, stdin=None):
        return json.loads(self.cli(*args, stdin=stdin).stdout)

    def test_client_commands(self):
        created = self.cli_json("client", "create", "--id", "cli-svc", "--name", "CLI service",
                                "--scope", " read  write ", "--audience", rs.AUDIENCE)
        secret = created["client_secret"]
        self.assertEqual(created["client_id"], "cli-svc")
        self.assertEqual(created["scope"], "read write")
        self.assertEqual(created["grant_types"], ["client_credentials"])
        body = self.assert_tokens(self.c.token({"grant_type": "client_credentials"},
                                               auth=("cli-svc", secret)))
        self.assertEqual(self.c.discovery_verify(body["access_token"])["sub"], "cli-svc")

        # Listing and showing never print a secret.
        listed = self.cli("client", "list").stdout
        self.assertIn("cli-svc", [c["client_id"] for c in json.loads(listed)["clients"]])
        self.assertNotIn(secret, listed)
        shown = self.cli("client", "show", "cli-svc").stdout
        self.assertEqual(json.loads(shown)["name"], "CLI service")
        self.assertNotIn("client_secret", json.loads(shown))
        self.assertNotIn(secret, shown)

        proc = self.cli("client", "create", "--id", "cli-svc", check=1)
        self.assertIn("409", proc.stderr)
        self.cli("client", "create", "--auth-method", "bogus", check=2)

        rotated = self.cli_json("client", "rotate-secret", "cli-svc")["client_secret"]
        self.assertNotEqual(rotated, secret)
        self.assert_oauth_error(self.c.token({"grant_type": "client_credentials"},
                                             auth=("cli-svc", secret)), 401, "invalid_client")
        self.assert_tokens(self.c.token({"grant_type": "client_credentials"},
                                        auth=("cli-svc", rotated)))

        self.assertEqual(self.cli("client", "delete", "cli-svc").returncode, 0)
        self.cli("client", "show", "cli-svc", check=1)
        self.assertNotIn("cli-svc", self.cli("client", "list").stdout)
        self.assert_oauth_error(self.c.token({"grant_type": "client_credentials"},
                                             auth=("cli-svc", rotated)), 401, "invalid_client")

    def test_private_key_jwt_client_from_a_jwks_file(self):
        key = Ed25519PrivateKey.generate()
        path = os.path.join(self.server.dir, "cli-client-jwks.json")
        with open(path, "w") as f:
            json.dump({"keys": [ed25519_jwk(key, "cli-1")]}, f)
        created = self.cli_json("client", "create", "--id", "cli-pkj", "--jwks", path)
        self.assertEqual(created["token_endpoint_auth_method"], "private_key_jwt")
        self.assertNotIn("client_secret", created)
        now = int(time.time())
        assertion = jwt.encode({"iss": "cli-pkj", "sub": "cli-pkj", "aud": self.c.base + TOKEN_PATH,
                                "exp": now + 60, "jti": uuid.uuid4().hex}, key,
                               algorithm="EdDSA", headers={"kid": "cli-1"})
        self.assert_tokens(self.c.token({"grant_type": "client_credentials",
                                         "client_assertion_type": JWT_BEARER,
                                         "client_assertion": assertion}))

    def test_user_commands_with_the_default_argon2_cost(self):
        client = self.cli_json("client", "create", "--id", "cli-app", "--grant", "password",
                               "--scope", "read write", "--auth-method", "client_secret_post")
        app = {"client_id": "cli-app", "client_secret": client["client_secret"]}

        def login(password):
            return self.c.token(dict(app, grant_type="password", username="erin",
                                     password=password))

        user = self.cli_json("user", "create", "erin", "--scope", "read", stdin="first pass\n")
        self.assertEqual((user["username"], user["scope"]), ("erin", "read"))
        self.assertNotIn("first pass", json.dumps(user))
        body = self.assert_tokens(login("first pass"))
        self.assertEqual(self.c.discovery_verify(body["access_token"])["sub"], "erin")
        self.cli("user", "create", "erin", stdin="again\n", check=1)
        self.cli("user", "create", "nopass", stdin="", check=1)  # no password on stdin

        proc = self.cli("user", "set-password", "erin", stdin="second pass\n")
        self.assertEqual(proc.returncode, 0)
        self.assert_oauth_error(login("first pass"), 400, "invalid_grant")
        self.assert_tokens(login("second pass"))

        listed = self.cli("user", "list").stdout
        users = {u["username"]: u for u in json.loads(listed)["users"]}
        self.assertEqual(users["erin"]["failures"], 0)  # a success resets the count
        self.assertNotIn("second pass", listed)
        self.assertNotIn("argon2", listed)  # no hash either

        self.cli("user", "delete", "erin")
        self.assertNotIn("erin", self.cli("user", "list").stdout)
        self.assert_oauth_error(login("second pass"), 400, "invalid_grant")

    def test_keys_list_and_admin_access(self):
        keys = self.cli_json("keys", "list")["keys"]
        self.assertEqual(sorted(k["state"] for k in keys), ["active", "next"])
        active = [k for k in keys if k["state"] == "active"][0]
        self.assertEqual(active["alg"], "EdDSA")
        self.assertGreater(active["activated_at"], 0)
        client_id, secret = self.c.create_client()
        body = self.assert_tokens(self.c.token({"grant_type": "client_credentials"},
                                               auth=(client_id, secret)))
        self.assertEqual(jwt.get_unverified_header(body["access_token"])["kid"], active["kid"])

        # The environment instead of options.
        env = dict(os.environ, RINGWARD_ADMIN=f"http://127.0.0.1:{self.server.admin_port}",
                   RINGWARD_ADMIN_TOKEN_FILE=self.server.token_file)
        proc = subprocess.run([rw.BINARY, "keys", "list"], env=env, capture_output=True,
                              text=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout)["keys"], keys)
        # A wrong admin token, and no server: exit 1.
        wrong = os.path.join(self.server.dir, "wrong-admin-token")
        with open(wrong, "w") as f:
            f.write("not-the-admin-token-0123456789\n")
        proc = rw.run("keys", "list", "--admin", f"http://127.0.0.1:{self.server.admin_port}",
                      "--token-file", wrong, check=1)
        self.assertIn("401", proc.stderr)
        rw.run("client", "list", "--admin", f"http://127.0.0.1:{rs.free_port()}",
               "--token-file", self.server.token_file, check=1)


if __name__ == "__main__":
    rw.main(globals())
