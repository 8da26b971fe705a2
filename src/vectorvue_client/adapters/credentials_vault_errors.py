"""What to tell an operator when Vault says no, for credentials_vault.py.

Every message is built from our own words and the configured mount, path and URL: nothing
Vault sent is quoted (its bodies may echo a token), apart from a redirect's Location, cut
short. The caller scrubs the result of every secret it handled anyway.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Final

from requests import exceptions as rq

from vectorvue_client.adapters.http_session import exception_chain
from vectorvue_client.domain.redaction import excerpt

# HTTP status and what the operator should do, by hvac exception class name.
_HTTP: Final = {
    "InvalidRequest": (400, "Vault refused the request as invalid"),
    "RateLimitExceeded": (429, "Vault is rate limiting this client: retry later"),
    "InternalServerError": (500, "Vault failed internally: see the Vault server log"),
    "VaultNotInitialized": (501, "Vault is not initialized"),
    "BadGateway": (502, "a proxy in front of Vault could not reach it"),
    "VaultDown": (503, "Vault is sealed or in maintenance: unseal it, or wait"),
}
_JSON_KINDS: Final = {bool: "boolean", int: "number", float: "number", list: "array"}


def denied(mount: str, path: str, *, token_auth: bool) -> str:
    """Vault refused the token (401/403) for a read of mount/path."""
    policy = f"read on {mount}/data/{path}"
    if token_auth:
        return (
            "Vault refused the token (permission denied): it is invalid, expired or "
            f"revoked, or its policies do not grant {policy}"
        )
    return (
        "Vault refused the token an AppRole login had just given (permission denied): "
        f"the role's policies must grant {policy}"
    )


def not_found(body: object, mount: str, path: str) -> str:
    """A 404: no secret there, or its latest version deleted or destroyed (also a 404,
    whose body still holds the version's metadata)."""
    where = f"{mount}/{path}"
    outer = body.get("data") if isinstance(body, Mapping) else None
    meta = outer.get("metadata") if isinstance(outer, Mapping) else None
    if isinstance(meta, Mapping):
        version = meta.get("version")
        which = f"version {version}" if isinstance(version, int) else "the latest version"
        if meta.get("destroyed") is True:
            return f"{which} of the secret at {where} is destroyed: write a new one"
        if meta.get("deletion_time"):
            return (
                f"{which} of the secret at {where} is deleted: undelete it "
                "(vault kv undelete) or write a new version"
            )
    return (
        f"there is no secret at {where} (HTTP 404): check vault_mount and "
        f"vault_path, and that {mount} is a KV version 2 engine"
    )


def not_json(answer: object) -> str:
    """hvac handed back a raw response: a 2xx/3xx it did not parse as JSON."""
    status = getattr(answer, "status_code", None)
    headers = getattr(answer, "headers", None)
    if isinstance(status, int) and 300 <= status < 400 and isinstance(headers, Mapping):
        location = str(headers.get("Location", "(none)"))
        return (
            f"Vault answered HTTP {status} redirecting to {excerpt(location, 200)}, which "
            "is never followed (it would carry the token elsewhere): set vault_url to "
            "the address that answers itself (the active node)"
        )
    return f"Vault answered HTTP {status} without a JSON body"


def explain(exc: BaseException, vault_error: type[BaseException], url: str, timeout: float) -> str:
    """An hvac status error (`vault_error` is hvac's base class) or a network failure."""
    name = type(exc).__name__
    if isinstance(exc, vault_error):
        status, advice = _HTTP.get(name, ("?", "Vault answered an unexpected status"))
        return f"HTTP {status}: {advice}"
    chain = exception_chain(exc)
    tls = [e for e in chain if isinstance(e, ssl.SSLError)]
    if tls or isinstance(exc, rq.SSLError):
        # OpenSSL's own words ("self-signed certificate", "Hostname mismatch, ...").
        why = (getattr(tls[-1], "verify_message", None) or tls[-1].reason) if tls else name
        return (
            f"TLS with Vault at {url} failed ({why}): set vault_ca_bundle to the "
            "CA that signed Vault's certificate, and check that the host in vault_url "
            "is one the certificate names"
        )
    if any(isinstance(e, rq.Timeout | TimeoutError) for e in chain):
        return f"Vault at {url} did not answer within {timeout:g} s (vault_timeout_seconds)"
    if isinstance(exc, rq.ConnectionError):
        return f"no connection to Vault at {url} ({type(chain[-1]).__name__})"
    return f"the exchange with Vault at {url} failed ({name})"


def json_kind(value: object) -> str:
    """The JSON name of a non-string value's type."""
    return "null" if value is None else _JSON_KINDS.get(type(value), "object")
