"""A server that echoes a secret bare: no text the client writes, raises or returns holds it.

Issue 11, item 3. For every secret the client knows (the API key from the environment, a
file and Vault; the login password and the JWT of the login answer; the HMAC signing
secret; the Ed25519 key material in each encoding; the Vault token, AppRole role_id,
secret_id and the client token Vault gives), a hostile HTTPS server on 127.0.0.1 (real
TLS, mutual for the gateway) echoes it with no key word before it: in a plain-text
401/500 body, a `{"detail": ...}`, the envelope's `errors`, per-item results, an
X-Request-ID header, and the `data` of a 202 (also spelled with JSON escapes). The client
is wired by the container as in production, with the JSONL audit file set, and every
library logger is captured at DEBUG. The secret must appear in none of: the exception's
str, repr and traceback, the envelope's repr and fields, the audit file, the log.

The secrets are random per test and never go through any code of the tests' that could
register them: what masks them is the client's own reading of them.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from secrets import token_hex, token_urlsafe
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from integration.vault_fake import FakeVault
from vectorvue_client import VectorVueClient, VectorVueConfig, VectorVueError
from vectorvue_client.container import Container
from vectorvue_client.domain.envelope import ResponseEnvelope
from vectorvue_client.domain.health import HealthReport
from vectorvue_client.samples import sample_path

from .echo_server import EchoServer, Reply, Seen

LOGIN_PATH = "/api/v1/client/auth/login"
TENANT = "10000000-0000-0000-0000-000000000001"
IDENTITY = "spectrastrike-producer"
EVENT = {
    "source_system": "spectrastrike",
    "event_type": "PORT_SCAN",
    "occurred_at": 1795564800,
    "asset_ref": "192.0.2.10",
    "message": "22/tcp open",
}
GATEWAY_EVENT = json.loads(sample_path("broker-envelope.jsonl").read_text().splitlines()[0])
MASK = "***"


# -- the secret kinds ------------------------------------------------------------------------
@dataclass
class Armed:
    """A client wired by the container against the echo server, and what it must hide."""

    client: VectorVueClient
    audit_path: Path
    # The values to echo and then look for; a callable, since some exist only once the
    # client has used them (the JWT is chosen here, but Vault issues the client token).
    secrets: Callable[[], list[str]]
    # Those the client has read by the time it is built (before any request).
    known_at_start: Callable[[], list[str]]
    gateway: bool = False

    def send(self) -> ResponseEnvelope:
        """One send of one item, as a batch where the profile has batches (so that the
        per-item results of the answer are read)."""
        if self.gateway:
            return self.client.send_event(GATEWAY_EVENT)
        return self.client.send_batch([EVENT])


def _jwt() -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = {"sub": "operator", "exp": int(time.time()) + 3600, "jti": token_hex(8)}
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{token_urlsafe(32)}"


def _ed25519_forms(key: Ed25519PrivateKey) -> list[str]:
    """The key as text in every form a server could echo it in, computed here (not by the
    client's code: an oracle that shares the code under test proves nothing)."""
    none = serialization.NoEncryption()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, none)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, none)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, none)
    return [
        pem.decode(),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
        base64.b64encode(der).decode(),
    ]


def _build(config: VectorVueConfig, environ: dict[str, str]) -> VectorVueClient:
    container = Container(config=config)
    container.environ.override(environ)
    client: VectorVueClient = container.client()
    return client


def _settings(server: EchoServer, tmp_path: Path, **more: Any) -> VectorVueConfig:
    return VectorVueConfig(
        base_url=server.url,
        ca_bundle=server.ca_pem_path,
        audit_file=str(tmp_path / "audit.jsonl"),
        max_retries=0,
        timeout_seconds=5.0,
        deadline_seconds=20.0,
        **more,
    )


def _api_key_env(server: Hostile, vault: FakeVault, tmp_path: Path) -> Armed:
    key = "vvk_" + token_urlsafe(24)
    client = _build(_settings(server, tmp_path), {"VECTORVUE_API_KEY": key})
    return Armed(client, tmp_path / "audit.jsonl", lambda: [key], known_at_start=lambda: [key])


def _api_key_file(server: Hostile, vault: FakeVault, tmp_path: Path) -> Armed:
    key = "vvk_" + token_urlsafe(24)
    path = tmp_path / "api-key"
    path.write_text(key + "\n")
    path.chmod(0o600)
    config = _settings(server, tmp_path, credential_sources=("file",), api_key_file=str(path))
    client = _build(config, {})
    return Armed(client, tmp_path / "audit.jsonl", lambda: [key], known_at_start=lambda: [key])


def _login(server: Hostile, vault: FakeVault, tmp_path: Path) -> Armed:
    password, jwt = "pw-" + token_urlsafe(18), _jwt()
    server.login_token = jwt
    config = _settings(
        server, tmp_path, auth="login", login_username="operator", login_tenant_id=TENANT
    )
    client = _build(config, {"VECTORVUE_PASSWORD": password})
    return Armed(
        client,
        tmp_path / "audit.jsonl",
        lambda: [password, jwt],
        known_at_start=lambda: [password],
    )


def _hmac(server: Hostile, vault: FakeVault, tmp_path: Path) -> Armed:
    secret = "vvs_" + token_urlsafe(24)
    config = _settings(server, tmp_path, signing_secret_env="VV_HMAC")
    client = _build(config, {"VECTORVUE_API_KEY": "vvk_" + token_urlsafe(24), "VV_HMAC": secret})
    return Armed(
        client, tmp_path / "audit.jsonl", lambda: [secret], known_at_start=lambda: [secret]
    )


def _gateway(server: EchoServer, tmp_path: Path, key_setting: dict[str, str], env: Any) -> Any:
    cert, client_key = server.issue_client_cert(IDENTITY)
    config = _settings(
        server,
        tmp_path,
        profile="telemetry-gateway",
        client_cert=cert,
        client_key=client_key,
        service_identity=IDENTITY,
        attestation_measurement_hash="5e" * 32,
        **key_setting,
    )
    return _build(config, env)


def _ed25519_file(server: Hostile, vault: FakeVault, tmp_path: Path) -> Armed:
    key = Ed25519PrivateKey.generate()
    forms = _ed25519_forms(key)
    path = tmp_path / "signing.pem"
    path.write_text(forms[0])
    client = _gateway(server, tmp_path, {"signing_key_file": str(path)}, {})
    return Armed(
        client,
        tmp_path / "audit.jsonl",
        lambda: forms,
        gateway=True,
        known_at_start=lambda: forms,
    )


def _ed25519_env(server: Hostile, vault: FakeVault, tmp_path: Path) -> Armed:
    key = Ed25519PrivateKey.generate()
    forms = _ed25519_forms(key)
    client = _gateway(
        server, tmp_path, {"signing_key_env": "VV_SIGNING_KEY"}, {"VV_SIGNING_KEY": forms[3]}
    )
    return Armed(
        client,
        tmp_path / "audit.jsonl",
        lambda: forms,
        gateway=True,
        known_at_start=lambda: forms,
    )


VAULT_VALUE = "vvk_from-vault-"


def _vault_settings(vault: FakeVault, **more: Any) -> dict[str, Any]:
    return {
        "credential_sources": ("vault",),
        "vault_url": vault.url,
        "vault_path": "vectorvue",
        "vault_ca_bundle": vault.ca_pem_path,
        **more,
    }


def _vault_token(server: Hostile, vault: FakeVault, tmp_path: Path) -> Armed:
    api_key = VAULT_VALUE + token_urlsafe(18)
    vault.secrets[("secret", "vectorvue")] = {"api_key": api_key}
    token = vault.issue_token()
    config = _settings(server, tmp_path, **_vault_settings(vault))
    client = _build(config, {"VAULT_TOKEN": token})
    return Armed(
        client,
        tmp_path / "audit.jsonl",
        lambda: [token, api_key],
        known_at_start=lambda: [token],
    )


def _vault_approle(server: Hostile, vault: FakeVault, tmp_path: Path) -> Armed:
    api_key = VAULT_VALUE + token_urlsafe(18)
    vault.secrets[("secret", "vectorvue")] = {"api_key": api_key}
    role_id, secret_id = str(uuid.uuid4()), str(uuid.uuid4())
    vault.approles[role_id] = secret_id
    config = _settings(server, tmp_path, **_vault_settings(vault, vault_auth="approle"))
    client = _build(config, {"VAULT_ROLE_ID": role_id, "VAULT_SECRET_ID": secret_id})
    return Armed(
        client,
        tmp_path / "audit.jsonl",
        # The client token exists once the client has logged in to Vault.
        lambda: [role_id, secret_id, *sorted(vault.tokens), api_key],
        known_at_start=lambda: [role_id, secret_id],
    )


KINDS: dict[str, Callable[[Hostile, FakeVault, Path], Armed]] = {
    "api-key-env": _api_key_env,
    "api-key-file": _api_key_file,
    "login-password-and-jwt": _login,
    "hmac-secret": _hmac,
    "ed25519-key-file": _ed25519_file,
    "ed25519-key-env": _ed25519_env,
    "vault-token": _vault_token,
    "vault-approle": _vault_approle,
}


# -- where the server echoes it --------------------------------------------------------------
def _escaped(value: Any, secrets: list[str]) -> bytes:
    """`value` as JSON, each secret spelled with \\u escapes only (a byte search for the
    secret finds nothing; a decoder gives the secret back)."""
    text = json.dumps(value)
    for secret in sorted(secrets, key=len, reverse=True):
        spelled = "".join(f"\\u{ord(c):04x}" for c in secret)
        text = text.replace(json.dumps(secret)[1:-1], spelled)
    return text.encode()


def _places(echo: str, line: str, secrets: list[str]) -> dict[str, Reply]:
    """Each hostile answer; `echo` holds every secret (PEM text with its newlines), `line`
    those of one line (what a header can carry)."""
    data = {"echo": echo, echo: [echo, {"deep": [[echo]]}]}
    accepted = {"request_id": "r-1", "status": "accepted", "data": data, "errors": []}
    return {
        "401-plain-text": Reply.text(401, f"expected key {echo}"),
        "401-detail": Reply.json(401, {"detail": f"invalid credentials {echo}"}),
        "500-plain-text": Reply.text(500, f"Internal Server Error: {echo}"),
        "400-detail": Reply.json(400, {"detail": echo}),
        "422-detail-list": Reply.json(
            422, {"detail": [{"loc": ["body", line], "msg": echo, "type": "value_error"}]}
        ),
        "422-envelope-errors": Reply.json(
            422,
            {
                "request_id": line,
                "status": "failed",
                "data": data,
                "errors": [{"code": line, "message": f"schema mismatch {echo}"}],
            },
        ),
        "202-item-results": Reply.json(
            202,
            {
                "request_id": "r-1",
                "status": "partial",
                "data": {
                    "results": [
                        {
                            "index": 0,
                            "item_id": echo,
                            "status": line,
                            "error_code": line,
                            "error_message": echo,
                        }
                    ]
                },
                "errors": [],
            },
        ),
        "202-request-id-header": Reply.json(
            202, {"status": "accepted", "data": {}}, {"X-Request-ID": line}
        ),
        "422-request-id-header": Reply.json(422, {"detail": "refused"}, {"X-Request-ID": line}),
        "202-gateway-request-id": Reply.json(202, {"accepted": True, "request_id": line}),
        "202-data": Reply.json(202, accepted),
        "202-data-json-escaped": Reply(202, _escaped(accepted, secrets)),
    }


PLACES = list(_places("x", "x", ["x"]))


def _health_places(echo: str, line: str) -> dict[str, Reply]:
    checks = {"database": echo, echo: {"detail": [echo]}}
    return {
        "healthz-200": Reply.json(
            200, {"status": line, "version": line, "timestamp": echo, "checks": checks}
        ),
        "healthz-503-json": Reply.json(
            503, {"status": "degraded", "version": 7, "checks": {"vault": [echo]}}
        ),
    }


HEALTH_PLACES = list(_health_places("x", "x"))


def _accepting(gateway: bool) -> Reply:
    if gateway:
        return Reply.json(202, {"accepted": True, "request_id": "r-0"})
    data = {"results": [{"index": 0, "status": "accepted"}]}
    return Reply.json(202, {"request_id": "r-0", "status": "accepted", "data": data})


# -- the fixtures and the checks -------------------------------------------------------------
class Hostile(EchoServer):
    """The echo server, answering logins with `login_token` and the rest as `reply` says."""

    def __init__(self) -> None:
        super().__init__(self._answer)
        self.login_token = ""
        self.reply: Callable[[], Reply] = lambda: Reply.text(500, "not armed")

    def _answer(self, seen: Seen) -> Reply:
        if seen.path == LOGIN_PATH:
            login = {"access_token": self.login_token, "token_type": "bearer"}
            return Reply.json(200, login | {"expires_in": 3600})
        return self.reply()


@pytest.fixture
def server() -> Iterator[Hostile]:
    """The hostile server, started."""
    with Hostile() as hostile:
        yield hostile


@pytest.fixture
def vault() -> Iterator[FakeVault]:
    """A FakeVault (used by the Vault kinds only)."""
    with FakeVault() as fake:
        yield fake


def _texts_of(outcome: ResponseEnvelope | HealthReport | BaseException) -> list[str]:
    """Every text a caller can get from an outcome."""
    if isinstance(outcome, BaseException):
        texts = [str(outcome), repr(outcome), "".join(traceback.format_exception(outcome))]
        texts += [repr(vars(outcome))]
        envelope = getattr(outcome, "envelope", None)
        if envelope is not None:
            texts += _texts_of(envelope)
        return texts
    if isinstance(outcome, HealthReport):
        return [repr(outcome), str(outcome.checks)]
    fields = msgspec.structs.asdict(outcome)
    return [repr(outcome), msgspec.json.encode(outcome).decode(), *map(repr, fields.values())]


def _leaks(secrets: list[str], **where: str) -> list[str]:
    """Which secret (by its position) shows in which text; [] when none does."""
    found = []
    for name, text in where.items():
        for number, secret in enumerate(secrets):
            # Each line too: a PEM echoed whole is also looked for line by line.
            pieces = [secret, *(p for p in secret.splitlines() if len(p) >= 16)]
            if any(piece in text for piece in pieces):
                found.append(f"secret #{number} in {name}")
    return found


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except VectorVueError as exc:
        return exc


def _check(
    armed: Armed,
    outcome: Any,
    caplog: pytest.LogCaptureFixture,
    secrets: list[str],
) -> None:
    armed.client.close()
    texts = _texts_of(outcome)
    audit = armed.audit_path.read_text()
    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert audit, "the audit file holds no record: the attack was not audited at all"
    assert MASK in "".join(texts) + audit, "nothing of the echo reached the caller"
    leaks = _leaks(secrets, outcome="\n".join(texts), audit_file=audit, log=logged)
    assert leaks == []


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_secret_echoed_bare_shows_nowhere(
    kind: str,
    place: str,
    server: Hostile,
    vault: FakeVault,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The server echoes every secret of `kind` at `place`: no exception text, envelope
    field, audit line or log line holds any of them."""
    caplog.set_level(logging.DEBUG)
    armed = KINDS[kind](server, vault, tmp_path)

    def reply() -> Reply:
        secrets = armed.secrets()
        line = " | ".join(s for s in secrets if "\n" not in s)
        return _places(" | ".join(secrets), line, secrets)[place]

    server.reply = reply
    outcome = _outcome(armed.send)
    assert [r for r in server.requests if r.path != LOGIN_PATH], "nothing reached the server"
    _check(armed, outcome, caplog, armed.secrets())


@pytest.mark.parametrize("place", HEALTH_PLACES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_secret_echoed_by_healthz_shows_nowhere(
    kind: str,
    place: str,
    server: Hostile,
    vault: FakeVault,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """After one accepted send (so that every secret has been used), /healthz echoes them
    all: the health report, the audit file and the log hold none."""
    caplog.set_level(logging.DEBUG)
    armed = KINDS[kind](server, vault, tmp_path)
    server.reply = lambda: _accepting(armed.gateway)
    assert armed.send().success
    secrets = armed.secrets()
    line = " | ".join(s for s in secrets if "\n" not in s)
    server.reply = lambda: _health_places(" | ".join(secrets), line)[place]
    _check(armed, _outcome(armed.client.health), caplog, secrets)


@pytest.mark.parametrize("kind", list(KINDS))
def test_secrets_read_at_construction_are_masked_before_any_send(
    kind: str, server: Hostile, vault: FakeVault, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The first thing the client asks is /healthz, and it echoes every secret the client
    has read by then (the container reads local credentials when it wires them): masked."""
    caplog.set_level(logging.DEBUG)
    armed = KINDS[kind](server, vault, tmp_path)
    secrets = armed.known_at_start()
    line = " | ".join(s for s in secrets if "\n" not in s)
    server.reply = lambda: _health_places(" | ".join(secrets), line)["healthz-200"]
    _check(armed, _outcome(armed.client.health), caplog, secrets)


def test_the_vault_login_echoing_its_secret_id_shows_nowhere(
    server: Hostile, vault: FakeVault, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Vault refuses the AppRole login and quotes the secret_id and the token in its error
    bodies (FakeVault's echo_in_errors): the configuration error, the audit file and the
    log hold neither. (A guard: this held before issue 11 too, by the Vault source's own
    scrub of what it handled.)"""
    caplog.set_level(logging.DEBUG)
    vault.echo_in_errors = True
    armed = _vault_approle(server, vault, tmp_path)
    vault.approles.clear()  # every login is refused now, with the secret_id echoed
    server.reply = lambda: _accepting(gateway=False)
    outcome = _outcome(armed.send)
    assert isinstance(outcome, VectorVueError)
    armed.client.close()
    texts = "\n".join(_texts_of(outcome))
    audit = armed.audit_path.read_text()
    assert _leaks(armed.known_at_start(), outcome=texts, audit=audit, log=caplog.text) == []
