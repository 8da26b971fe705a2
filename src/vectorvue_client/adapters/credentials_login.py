"""CredentialSource that logs in to VectorVue's integration API and keeps the JWT it gives.

`POST /api/v1/client/auth/login` with {"username", "password", "tenant_id"} answers
{"access_token", "token_type": "bearer", "expires_in", ...}. There is no refresh endpoint:
the source logs in again shortly before the token's own `exp` (the advertised `expires_in`
can be wrong), and once more when the client invalidates it after a 401.

- The login goes through the Transport port, so it uses exactly the client's TLS settings,
  CA, pins, proxy and client certificate, and never follows a redirect (which would carry
  the password elsewhere).
- The password is revealed only to build the login body. The body is never kept, and no
  message quotes it, the access token or any text of the server's (which might echo them).
- One login attempt per `get`, never a retry: the client's policy decides what follows a
  failure, and a second consecutive failure reaches it.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from typing import Any, Final

import msgspec

from vectorvue_client import call_deadline
from vectorvue_client.domain.errors import (
    TransportErrorKind,
    VectorVueConfigError,
    VectorVueTransportError,
)
from vectorvue_client.domain.http import HttpRequest, HttpResponse, Timeouts, TransportFailure
from vectorvue_client.domain.jwt import json_seconds, jwt_expiry
from vectorvue_client.domain.redaction import Secret, failure_detail, remember
from vectorvue_client.log_scrub import scrub_logger
from vectorvue_client.ports import Clock, CredentialSource, Transport

LOGIN_PATH: Final = "/api/v1/client/auth/login"
_HEADERS: Final = (("Content-Type", "application/json"), ("Accept", "application/json"))
# Refusals of the credentials themselves: no resend can fix them, the operator must.
_REFUSED: Final = frozenset({401, 403})
# Refusals of the request's shape or address (a malformed tenant_id, a base_url that is
# not an integration-api VectorVue): just as final, with other advice.
_MISADDRESSED: Final = frozenset({400, 404, 405, 422})
# RFC 6750 b64token: what may follow "Bearer " in a header. It excludes spaces, CR and LF,
# so a token cannot smuggle a header of its own into the requests it authorizes.
_BEARER_TOKEN: Final = re.compile(r"[A-Za-z0-9._~+/-]+=*")

_LOGGER = scrub_logger(logging.getLogger("vectorvue_client.credentials"))


class _LoginRequest(msgspec.Struct, frozen=True):
    username: str
    password: str
    tenant_id: str


class LoginCredentialSource:
    """Logs in with `username`, the password from `password` (read at every login, so a
    rotated one is picked up) and `tenant_id`; serves the access token it gets until
    `refresh_margin_seconds` before the token's `exp` on `clock.time()`, then logs in again.

    When the token holds no readable `exp` (it is not a JWT, or has none), the answer's
    `expires_in` counts from the time of the login; when there is neither, the token is
    kept until `invalidate`. Thread-safe: one login at a time, and threads that find the
    token due wait for that login's result instead of making their own.

    Errors name `field`: VectorVueConfigError when VectorVue refuses the login (401, 403:
    the credentials; 400, 404, 405, 422: the request or the address), and
    VectorVueTransportError when the login could not be made (the transport's kind) or was
    answered with anything else (kind PROTOCOL: a 5xx, a 429, a malformed answer).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        username: str,
        password: CredentialSource,
        tenant_id: str,
        clock: Clock,
        refresh_margin_seconds: float = 60.0,
        timeout_seconds: float = 10.0,
        field: str = "username",
    ) -> None:
        if not username.strip():
            raise VectorVueConfigError(field, "the login username must not be empty")
        if not tenant_id.strip():
            raise VectorVueConfigError(field, "the login tenant_id must not be empty")
        if not (math.isfinite(refresh_margin_seconds) and refresh_margin_seconds >= 0):
            raise ValueError("refresh_margin_seconds must be a finite number >= 0")
        if not (math.isfinite(timeout_seconds) and timeout_seconds > 0):
            raise ValueError("timeout_seconds must be a positive number of seconds")
        self._transport = transport
        self._username = username
        self._password = password
        self._tenant_id = tenant_id
        self._clock = clock
        self._margin = refresh_margin_seconds
        self._timeouts = Timeouts(connect=timeout_seconds, read=timeout_seconds)
        self._field = field
        # Held during a login: many threads finding the token due make one login.
        self._lock = threading.Lock()
        self._token: Secret | None = None
        self._refresh_at: float | None = None  # None: keep until invalidated

    def __repr__(self) -> str:
        # Nothing of the token, nor whether one is kept (which tells when a login happens).
        return f"LoginCredentialSource(field={self._field!r})"

    def get(self) -> Secret:
        """The kept access token while it is fresh; else the token of a new login (one
        attempt, ended by the deadline of the send that needs it (call_deadline); its
        error propagates and nothing is kept)."""
        with self._lock:
            now = self._clock.time()
            if self._token is not None and (self._refresh_at is None or now < self._refresh_at):
                return self._token
            # Forgotten before the attempt: a token due for refresh is never served again,
            # whatever the login gives.
            self._token = None
            token, expires_in = self._login()
            self._token, self._refresh_at = token, self._refresh_time(token, expires_in, now)
            return token

    def invalidate(self) -> None:
        """Forget the access token, so that the next `get` logs in again (the client calls
        this once after a 401), and invalidate the password source, so that login reads
        the password anew. Waits for a login in progress."""
        with self._lock:
            self._token = None
            # Under the lock, as in get (this lock, then the password source's).
            self._password.invalidate()

    def _login(self) -> tuple[Secret, float | None]:
        """One login: the access token and the advertised expires_in, if usable."""
        timeouts = self._timeouts
        within = call_deadline.left()
        if within is not None:
            if within <= 0:
                raise VectorVueTransportError(
                    TransportErrorKind.DEADLINE, "no time was left for the VectorVue login"
                )
            # The login is part of the send that needs it: it ends by that send's deadline.
            timeouts = Timeouts(
                connect=min(timeouts.connect, within), read=min(timeouts.read, within), total=within
            )
        try:
            password = self._password.get()
        except VectorVueConfigError as exc:  # its message is secret-free by contract
            raise VectorVueConfigError(
                self._field, f"the VectorVue login password is not available ({exc})"
            ) from None
        body = msgspec.json.encode(
            _LoginRequest(
                username=self._username, password=password.reveal(), tenant_id=self._tenant_id
            )
        )
        result = self._transport.send(HttpRequest("POST", LOGIN_PATH, _HEADERS, body), timeouts)
        if isinstance(result, TransportFailure):
            # The transport never quotes a body; scrubbed again all the same, in case a
            # future one quotes what it sent.
            detail = failure_detail(result.detail, [password])
            raise VectorVueTransportError(result.kind, f"VectorVue login failed: {detail}")
        if result.status in _REFUSED:
            # A refused password must not stay in a cache in front of the source: the next
            # get reads it anew (an operator may be rotating it right now).
            self._password.invalidate()
            raise VectorVueConfigError(
                self._field,
                f"VectorVue refused the login (HTTP {result.status}): check the username, "
                "the password and the tenant_id it is configured with",
            )
        if result.status in _MISADDRESSED:
            raise VectorVueConfigError(
                self._field,
                f"VectorVue refused the login request (HTTP {result.status}): check that "
                "base_url is a VectorVue with the integration-api profile, and that the "
                "username and the tenant_id are well formed",
            )
        if result.status != 200:
            raise _protocol(f"VectorVue answered the login with HTTP {result.status}")
        return _read_answer(result)

    def _refresh_time(self, token: Secret, expires_in: float | None, now: float) -> float | None:
        """When to log in again (None: when invalidated); `now` is the time of the login."""
        try:
            exp = jwt_expiry(token.reveal())
        except ValueError:
            exp = None  # an opaque token: only expires_in can tell
        if exp is None:
            if expires_in is None:
                return None
            exp = now + expires_in
        if exp - self._margin > now:
            return exp - self._margin
        if exp > now:
            # It lives less than the margin: use it to its end rather than log in per get.
            return exp
        # Expired on our clock the moment it was issued: this host's clock is ahead of the
        # server's. Logging in at every get would not help; VectorVue's 401 will tell when
        # it really expires, and the client then invalidates it.
        _LOGGER.warning(
            "the access token VectorVue just issued (setting %s) expired %.0f s ago by this "
            "host's clock: is the clock ahead? It is kept until VectorVue refuses it",
            self._field,
            now - exp,
        )
        return None


def _read_answer(response: HttpResponse) -> tuple[Secret, float | None]:
    """The access token and the usable expires_in of a 200 login answer; PROTOCOL errors
    that quote nothing of it (the answer holds the token)."""
    try:
        answer: Any = msgspec.json.decode(response.body)
    except (msgspec.DecodeError, RecursionError):  # nested past the interpreter's limit
        raise _protocol("VectorVue's login answer is not JSON") from None
    if not isinstance(answer, dict):
        raise _protocol("VectorVue's login answer is not a JSON object")
    token = answer.get("access_token")
    if isinstance(token, str):
        # Known from the moment it is read, even if the answer is refused below: it is a
        # credential all the same, and VectorVue may echo it in what it answers next.
        remember(token)
    token_type = answer.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise _protocol('VectorVue\'s login answer has no token_type "bearer"')
    if not isinstance(token, str) or not token:
        raise _protocol("VectorVue's login answer has no access_token")
    if not _BEARER_TOKEN.fullmatch(token):
        raise _protocol(
            "VectorVue's login answer holds an access_token that cannot be sent as a "
            "bearer token (characters outside RFC 6750's b64token)"
        )
    return Secret(token), _lifetime(answer.get("expires_in"))


def _lifetime(value: object) -> float | None:
    """expires_in as positive finite seconds, else None: it is only a fallback, and a
    wrong one must not fail a login that gave a good token."""
    seconds = json_seconds(value)
    return seconds if seconds is not None and seconds > 0 else None


def _protocol(detail: str) -> VectorVueTransportError:
    return VectorVueTransportError(TransportErrorKind.PROTOCOL, detail)
