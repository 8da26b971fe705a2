"""CredentialSource from HashiCorp Vault's KV version 2 engine, through hvac (ADR 0008).

- hvac is the optional extra `vault`. It is imported when a source is built, so that the
  container can import this module without it, and a missing extra is a config error
  that says what to install. hvac ships no type hints: what it returns is checked here,
  shape by shape, before anything of it is used.
- hvac runs on a requests Session of our own with `trust_env = False`: otherwise
  REQUESTS_CA_BUNDLE would replace the configured CA, and proxies and ~/.netrc from the
  environment would apply. hvac.Client also fills what it is not given from VAULT_TOKEN,
  ~/.vault-token, VAULT_CACERT and VAULT_CLIENT_CERT; every one of them is given here.
- Redirects are refused (Vault standbys answer 307 to the active node): a redirect
  followed would carry X-Vault-Token to whatever host the Location names.
- No message quotes hvac's exceptions (they carry response bodies) or a value read from
  Vault; the little server text quoted (a redirect's Location) is scrubbed.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import requests.adapters
from requests import exceptions as rq
from urllib3.util import Retry

from vectorvue_client.adapters import credentials_vault_errors as errors_
from vectorvue_client.adapters.http_session import hardened_session
from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.domain.redaction import Secret, excerpt, scrub
from vectorvue_client.ports import CredentialSource


@dataclass(frozen=True, slots=True)
class VaultToken:
    """Authenticate to Vault with a token, itself read from a credential source."""

    token: CredentialSource


@dataclass(frozen=True, slots=True)
class VaultAppRole:
    """Authenticate to Vault with AppRole; `mount` is where the auth method is enabled."""

    role_id: CredentialSource
    secret_id: CredentialSource
    mount: str = "approle"


class _TokenRejectedError(Exception):
    """Vault refused the token (401 or 403): the caller decides whether to log in again."""


class VaultCredentialSource:
    """Reads `key` of the KV v2 secret at `mount`/`path` on the Vault at `url` at every
    `get` (wrap it in CachedCredentialSource to read less often).

    With AppRole the token that login gives is kept; when Vault rejects it (expired,
    revoked) the source logs in again, once per `get`, and a token refused right after
    login is an error. Every failure is a VectorVueConfigError naming `field`.
    """

    def __init__(
        self,
        url: str,
        *,
        mount: str,
        path: str,
        key: str,
        auth: VaultToken | VaultAppRole,
        ca_bundle: str | None = None,
        timeout_seconds: float = 5.0,
        field: str = "api_key_env",
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() != "https" or not parts.hostname:
            raise VectorVueConfigError("vault_url", "must be an https:// URL with a host")
        if "@" in parts.netloc or parts.query or parts.fragment:
            # Not quoted: userinfo in it would be a credential.
            raise VectorVueConfigError(
                "vault_url", "must not carry credentials, a query or a fragment"
            )
        for name, value in (("vault_mount", mount), ("vault_path", path), ("vault_key", key)):
            if not value.strip("/ "):
                raise VectorVueConfigError(name, "must not be empty")
        if not timeout_seconds > 0:
            raise VectorVueConfigError("vault_timeout_seconds", "must be positive")
        self._url = url.rstrip("/")
        self._mount = mount.strip("/")
        self._path = path.strip("/")
        self._key = key
        self._auth = auth
        self._timeout = timeout_seconds
        self._field = field
        self._where = f"{self._mount}/{self._path}"
        self._token_auth = isinstance(auth, VaultToken)
        self._lock = threading.Lock()
        self._login_token: Secret | None = None  # AppRole only
        self._seen: list[Secret] = []  # every secret handled by the current get, to scrub
        self._hvac = _import_hvac(field)
        self._client = self._build_client(ca_bundle or True)

    def get(self) -> Secret:
        """The credential; VectorVueConfigError naming `field` when it cannot be had."""
        with self._lock:  # one hvac client, whose token is per-call state
            self._seen = []
            try:
                return self._get()
            finally:
                self._seen = []
                self._client.token = None  # the raw token stays nowhere longer than a call

    def invalidate(self) -> None:
        """Forget the Vault token an AppRole login gave, so that the next `get` logs in
        again, and invalidate the sources of the Vault credentials (token, role_id,
        secret_id). The credential itself is never kept: every `get` reads it from Vault.
        Waits for a `get` in progress."""
        with self._lock:
            self._login_token = None
            # Under the lock, as in get (this lock, then the auth source's): a get cannot
            # read an auth credential between the two steps and keep what was just forgotten.
            if isinstance(self._auth, VaultToken):
                self._auth.token.invalidate()
            else:
                self._auth.role_id.invalidate()
                self._auth.secret_id.invalidate()

    def close(self) -> None:
        """Close the pooled connections to Vault."""
        self._client.adapter.close()

    def _get(self) -> Secret:
        token, fresh = self._token()
        while True:  # twice at most: a token just obtained that is refused is an error
            try:
                return self._read(token)
            except _TokenRejectedError:
                if fresh:
                    raise self._error(
                        errors_.denied(self._mount, self._path, token_auth=self._token_auth)
                    ) from None
            # The kept AppRole token expired or was revoked: log in again, once.
            self._login_token = None
            token, fresh = self._token()

    def _token(self) -> tuple[Secret, bool]:
        """The token to read with, and whether it was obtained just now."""
        if isinstance(self._auth, VaultToken):
            # Read at every get, so a rotated token is used at once.
            return self._credential(self._auth.token, "the Vault token"), True
        token, fresh = self._login_token, self._login_token is None
        if token is None:
            token = self._login_token = self._login(self._auth)
        self._seen.append(token)
        return token, fresh

    def _credential(self, source: CredentialSource, what: str) -> Secret:
        try:
            secret = source.get()
        except VectorVueConfigError as exc:  # its message is secret-free by contract
            raise self._error(f"{what} is not available ({exc})") from None
        self._seen.append(secret)
        return secret

    def _login(self, auth: VaultAppRole) -> Secret:
        role_id = self._credential(auth.role_id, "the AppRole role_id")
        secret_id = self._credential(auth.secret_id, "the AppRole secret_id")
        errors = self._hvac.exceptions
        self._client.token = None  # a login carries no token
        at = f"auth/{auth.mount.strip('/')}"
        try:
            answer = self._client.auth.approle.login(
                role_id=role_id.reveal(),
                secret_id=secret_id.reveal(),
                use_token=False,
                mount_point=auth.mount.strip("/"),
            )
        except (errors.InvalidRequest, errors.Unauthorized, errors.Forbidden):
            raise self._error(
                f"Vault refused the AppRole login at {at}: check the role_id and the "
                "secret_id (a secret_id can expire or run out of uses)"
            ) from None
        except errors.InvalidPath:
            raise self._error(f"no AppRole auth method at {at} (HTTP 404)") from None
        except (errors.VaultError, rq.RequestException) as exc:
            raise self._error(f"AppRole login failed: {self._explain(exc)}") from None
        if not isinstance(answer, Mapping):
            raise self._error(f"AppRole login failed: {errors_.not_json(answer)}")
        block = answer.get("auth")
        token = block.get("client_token") if isinstance(block, Mapping) else None
        if not isinstance(token, str) or not token:
            raise self._error(f"the AppRole login at {at} gave no client token")
        return Secret(token)

    def _read(self, token: Secret) -> Secret:
        errors = self._hvac.exceptions
        self._client.token = token.reveal()
        try:
            answer = self._client.secrets.kv.v2.read_secret_version(
                path=self._path, mount_point=self._mount, raise_on_deleted_version=True
            )
        except (errors.Unauthorized, errors.Forbidden):
            raise _TokenRejectedError from None
        except errors.InvalidPath as exc:
            raise self._error(errors_.not_found(exc.json, self._mount, self._path)) from None
        except (errors.VaultError, rq.RequestException) as exc:
            raise self._error(self._explain(exc)) from None
        if not isinstance(answer, Mapping):
            raise self._error(errors_.not_json(answer))
        outer = answer.get("data")
        secret = outer.get("data") if isinstance(outer, Mapping) else None
        if not isinstance(secret, Mapping):
            raise self._error(
                f"Vault's answer for {self._where} holds no secret data: "
                f"is {self._mount} a KV version 2 engine?"
            )
        if self._key not in secret:
            names = excerpt(", ".join(sorted(str(k) for k in secret)) or "(none)", 200)
            raise self._error(
                f"the secret at {self._where} has no key {self._key!r} (its keys: {names}): "
                "set vault_key to the right one, or add the key in Vault"
            )
        value = secret[self._key]
        if not isinstance(value, str):
            raise self._error(
                f"key {self._key!r} of the secret at {self._where} holds a JSON "
                f"{errors_.json_kind(value)}, not a string: store the credential as a string"
            )
        if not value.strip():
            raise self._error(f"key {self._key!r} of the secret at {self._where} is empty")
        return Secret(value)

    def _explain(self, exc: BaseException) -> str:
        return errors_.explain(exc, self._hvac.exceptions.VaultError, self._url, self._timeout)

    def _error(self, rule: str) -> VectorVueConfigError:
        return VectorVueConfigError(self._field, scrub(rule, self._seen))

    def _build_client(self, verify: bool | str) -> Any:  # an hvac.Client: hvac is untyped
        session = hardened_session(
            requests.adapters.HTTPAdapter(
                pool_connections=1, pool_maxsize=4, max_retries=Retry(0, redirect=False)
            )
        )
        # hvac replaces the verify it is given with a truthy session.verify (its issue
        # 991), and a new Session's verify is True: both must hold the configured CA.
        session.verify = verify
        json_adapter = self._hvac.adapters.JSONAdapter

        def adapter(**given: Any) -> Any:
            # Client hands VAULT_CLIENT_CERT from the environment to its adapter as `cert`
            # when it is given none; None here means none.
            return json_adapter(**(given | {"cert": None}))

        # token="" keeps hvac from reading VAULT_TOKEN and ~/.vault-token.
        return self._hvac.Client(
            url=self._url,
            token="",
            verify=verify,
            timeout=self._timeout,
            proxies=None,
            allow_redirects=False,
            session=session,
            adapter=adapter,
        )


def _import_hvac(field: str) -> ModuleType:
    try:
        return importlib.import_module("hvac")
    except ImportError:
        raise VectorVueConfigError(
            field, "the Vault source needs hvac: install vectorvue-client[vault]"
        ) from None
