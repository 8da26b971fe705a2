"""Who may call LocalVectorVue's integration-api profile, and how often.

- Login: POST /api/v1/client/auth/login with {"username", "password", "tenant_id"} returns
  an HS256 JWT (claims sub, tenant_id, role, iat, exp) signed with a random per-receiver key.
  The advertised `expires_in` can be made wrong on purpose, as the contract warns it can be:
  a client must read `exp` from the token.
- Bearer auth: the static API token, or a JWT from the login (401 "Token expired" once
  `exp` has passed, 401 "Invalid JWT" for anything else wrong with one).
- Rate limit: a sliding 60 s window per client (a JWT's subject, else the token itself),
  all SpectraStrike routes together; over it -> 429 with NO Retry-After. A refused request
  is not counted, so the window frees up as old requests leave it.

The JWT is written by hand (a dozen lines of hmac and base64url) so that no JWT library is
needed to run the client's tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from vectorvue_client.testing.receiver_reply import Reply, detail, json_reply

LOGIN_PATH: Final = "/api/v1/client/auth/login"
RATE_WINDOW_SECONDS: Final = 60.0
_BEARER_CHALLENGE: Final = {"WWW-Authenticate": "Bearer"}


class JwtError(ValueError):
    """A JWT was refused; `str(error)` is the 401 detail ("Invalid JWT", "Token expired")."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    if "=" in text:
        raise JwtError("Invalid JWT")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise JwtError("Invalid JWT") from None


def encode_jwt(claims: Mapping[str, Any], key: bytes) -> str:
    """An HS256 JWT of `claims`, signed with `key`."""
    header = _b64url(msgspec.json.encode({"alg": "HS256", "typ": "JWT"}))
    payload = _b64url(msgspec.json.encode(dict(claims)))
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def decode_jwt(token: str, key: bytes, now: float) -> dict[str, Any]:
    """The claims of a valid, unexpired HS256 JWT; JwtError otherwise. The signature is
    checked before any claim is believed."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtError("Invalid JWT")
    header_b64, payload_b64, signature_b64 = parts
    expected = hmac.new(key, f"{header_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _unb64url(signature_b64)):
        raise JwtError("Invalid JWT")
    try:
        header = msgspec.json.decode(_unb64url(header_b64))
        claims = msgspec.json.decode(_unb64url(payload_b64))
    except msgspec.DecodeError:
        raise JwtError("Invalid JWT") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise JwtError("Invalid JWT")
    if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str):
        raise JwtError("Invalid JWT")
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise JwtError("Invalid JWT")
    if now >= exp:
        raise JwtError("Token expired")
    return claims


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request with a good bearer token is: `key`, what its rate limit is counted
    under (a JWT's subject, else the static token); the token's `tenant_id` and `sub`
    claims (a static token that is not itself a JWT has neither: None and "")."""

    key: str
    tenant_id: object
    subject: str


def _unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT-shaped token without checking its signature ({} if it has
    none): only for the static token, which is trusted because it is the configured one
    (VectorVue takes a static key only if it is such a JWT, carrying tenant_id)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = msgspec.json.decode(_unb64url(parts[1]))
    except (JwtError, msgspec.DecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


class _Login(msgspec.Struct, frozen=True):
    username: str
    password: str
    tenant_id: str


class Accounts:
    """Users, tokens and the rate limit of the integration API; thread-safe.

    `users` maps a username to (password, tenant_id, role). `logins` counts login attempts,
    successful or not, so a test can tell one login from a loop of them.
    """

    def __init__(
        self,
        *,
        api_token: str,
        users: Mapping[str, tuple[str, str, str]],
        jwt_ttl_seconds: int,
        advertised_expires_in: int | None,
        rate_limit_per_minute: int,
        now: Callable[[], float],
    ) -> None:
        self._token = api_token.encode()
        self._users = dict(users)
        self._ttl = jwt_ttl_seconds
        self._advertised = advertised_expires_in
        self._limit = rate_limit_per_minute
        self._now = now
        self.jwt_key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._logins = 0
        self._windows: defaultdict[str, deque[float]] = defaultdict(deque)

    @property
    def logins(self) -> int:
        """How many login attempts were made (successful or not)."""
        with self._lock:
            return self._logins

    def clear(self) -> None:
        """Forget the login count and every rate-limit window."""
        with self._lock:
            self._logins = 0
            self._windows.clear()

    def login(self, method: str, body: bytes) -> Reply:
        """The reply to POST /api/v1/client/auth/login."""
        if method != "POST":
            return detail(405, "Method Not Allowed")
        with self._lock:
            self._logins += 1
        try:
            request = msgspec.json.decode(body, type=_Login)
        except msgspec.DecodeError as exc:
            return detail(422, str(exc))
        known = self._users.get(request.username)
        password_ok = known is not None and hmac.compare_digest(
            known[0].encode(), request.password.encode()
        )
        if known is None or not password_ok or known[1] != request.tenant_id:
            return detail(401, "Invalid credentials")
        _, tenant_id, role = known
        issued_at = int(self._now())
        claims = {
            "sub": request.username,
            "tenant_id": tenant_id,
            "role": role,
            "iat": issued_at,
            "exp": issued_at + self._ttl,
        }
        document = {
            "access_token": encode_jwt(claims, self.jwt_key),
            "token_type": "bearer",
            "expires_in": self._ttl if self._advertised is None else self._advertised,
            "tenant_id": tenant_id,
            "username": request.username,
        }
        return json_reply(200, document)

    def authenticate(self, headers: Mapping[str, str]) -> Reply | Caller:
        """The 401 for a request without a valid bearer token, or who is calling."""
        value = headers.get("authorization", "")
        token = value[7:].strip() if value.startswith("Bearer ") else ""
        if not token:
            return detail(401, "Missing bearer token", _BEARER_CHALLENGE)
        if hmac.compare_digest(token.encode(), self._token):
            claims = _unverified_claims(token)  # trusted: it is the configured token
            subject = claims.get("sub")
            return Caller(
                f"token:{token}",
                claims.get("tenant_id"),
                subject if isinstance(subject, str) else "",
            )
        if token.count(".") != 2:  # not even shaped like a JWT: an unknown API key
            return detail(401, "Invalid token", _BEARER_CHALLENGE)
        try:
            claims = decode_jwt(token, self.jwt_key, self._now())
        except JwtError as exc:
            return detail(401, str(exc), _BEARER_CHALLENGE)
        return Caller(f"user:{claims['sub']}", claims.get("tenant_id"), claims["sub"])

    def admit(self, client: str) -> Reply | None:
        """429 when `client` (a Caller's key) has used up its window, else None (and the
        request counts)."""
        now = self._now()
        with self._lock:
            window = self._windows[client]
            while window and window[0] <= now - RATE_WINDOW_SECONDS:
                window.popleft()
            if len(window) >= self._limit:
                return detail(429, "Rate limit exceeded")
            window.append(now)
        return None
