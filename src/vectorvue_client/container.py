"""The composition root: the only place that knows which adapter fills which port, and
nothing imports it back. `build_client(config)` is a client with the default adapters;
tests and embedders override a provider to swap one:

    container = Container(config=config)
    container.transport.override(FakeTransport(...))
    client = container.client()

Selectors pick the HTTP backend, the signer and each credential source from the
configuration; each provider calls a factory annotated with the port it fills, so mypy
--strict checks here that every default adapter fits its Protocol.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import threading
from collections.abc import Callable, Mapping
from urllib.parse import unquote, urlsplit

from dependency_injector import containers, providers

from vectorvue_client.adapters.audit_fanout import FanoutAuditSink
from vectorvue_client.adapters.audit_jsonl import JsonlAuditSink
from vectorvue_client.adapters.audit_logging import LoggingAuditSink
from vectorvue_client.adapters.clock_system import SystemClock
from vectorvue_client.adapters.credentials_cached import CachedCredentialSource
from vectorvue_client.adapters.credentials_chain import ChainCredentialSource
from vectorvue_client.adapters.credentials_env import EnvCredentialSource
from vectorvue_client.adapters.credentials_file import FileCredentialSource
from vectorvue_client.adapters.credentials_login import LoginCredentialSource
from vectorvue_client.adapters.credentials_vault import (
    VaultAppRole,
    VaultCredentialSource,
    VaultToken,
)
from vectorvue_client.adapters.entropy_system import SystemEntropy
from vectorvue_client.adapters.keyring_file import load_keyring
from vectorvue_client.adapters.nonce_memory import MemoryNonceStore
from vectorvue_client.adapters.nonce_sqlite import SqliteNonceStore
from vectorvue_client.adapters.outbox_sqlite import SqliteOutbox
from vectorvue_client.adapters.signer_ed25519 import (
    Ed25519Signer,
    certificate_sha256,
    load_ed25519_key_file,
    load_ed25519_key_secret,
)
from vectorvue_client.adapters.signer_hmac import HmacSigner
from vectorvue_client.adapters.signer_none import UnsignedSigner
from vectorvue_client.adapters.transport_requests import RequestsTransport
from vectorvue_client.adapters.transport_sockets import TlsSetupError
from vectorvue_client.adapters.transport_urllib3 import Urllib3Transport
from vectorvue_client.config import VectorVueConfig, default_outbox_path, proxy_from_environment
from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.domain.feedback import Keyring
from vectorvue_client.domain.redaction import Secret, remember
from vectorvue_client.ports import (
    AuditSink,
    Broker,
    Clock,
    CredentialSource,
    Entropy,
    NonceStore,
    Outbox,
    QueueKind,
    Signer,
    Transport,
)
from vectorvue_client.service.bridge import Bridge
from vectorvue_client.service.client import VectorVueClient
from vectorvue_client.service.outbox_view import OutboxView
from vectorvue_client.version import USER_AGENT


def make_transport(
    backend: type[Urllib3Transport] | type[RequestsTransport],
    config: VectorVueConfig,
    environ: Mapping[str, str],
) -> Transport:
    """An HTTP backend (urllib3, or requests: the same rules), verifying against
    `ca_bundle`, else certifi's bundle (what requests uses for verify=True), or, only when
    verify_tls is explicitly false, nothing; pins checked in the handshake; a proxy only
    when configured (or, with proxy_from_env, when the environment names one); no pooled
    connection reused after pool_max_idle_seconds."""
    verify: bool | str = config.verify_tls
    if config.ca_bundle is not None:
        _require_file("ca_bundle", config.ca_bundle)
        verify = config.ca_bundle
    client_cert = None
    if config.client_cert is not None and config.client_key is not None:
        _require_file("client_cert", config.client_cert)
        _require_file("client_key", config.client_key)
        client_cert = (config.client_cert, config.client_key)
    proxy = config.proxy_url
    if config.proxy_from_env:
        proxy = proxy_from_environment(environ, config.base_url)
    try:
        return backend(
            config.base_url,
            verify=verify,
            client_cert=client_cert,
            pool_size=config.pool_size,
            max_response_bytes=config.max_response_bytes,
            user_agent=USER_AGENT,
            pins=config.pinned_cert_sha256,
            proxy=proxy,
            max_idle_seconds=config.pool_max_idle_seconds,
        )
    except TlsSetupError as exc:  # both backends load the files now, once
        field = "ca_bundle" if exc.setting == "verify" else "client_cert"
        raise VectorVueConfigError(field, exc.rule) from None


def make_vault(config: VectorVueConfig, environ: Mapping[str, str]) -> VaultCredentialSource:
    """The Vault KV v2 source; its token, or its AppRole role_id and secret_id, come from
    environment variables."""
    assert config.vault_url is not None and config.vault_path is not None

    def env(name: str, field: str) -> CredentialSource:
        return known_now(EnvCredentialSource(environ, name, field=field))

    auth: VaultToken | VaultAppRole = (
        VaultToken(env(config.vault_token_env, "vault_token_env"))
        if config.vault_auth == "token"
        else VaultAppRole(
            env(config.vault_role_id_env, "vault_role_id_env"),
            env(config.vault_secret_id_env, "vault_secret_id_env"),
            mount=config.vault_approle_mount,
        )
    )
    if config.vault_ca_bundle is not None:
        _require_file("vault_ca_bundle", config.vault_ca_bundle)
    return VaultCredentialSource(
        config.vault_url,
        mount=config.vault_mount,
        path=config.vault_path,
        key=config.vault_key,
        auth=auth,
        ca_bundle=config.vault_ca_bundle,
        timeout_seconds=config.vault_timeout_seconds,
        field="vault_path",
    )


def make_login(
    config: VectorVueConfig, environ: Mapping[str, str], clock: Clock, transport: Transport
) -> CredentialSource:
    """A JWT from the login endpoint (auth "login"), through the same transport, so the
    same TLS, CA and pins."""
    assert config.login_username is not None and config.login_tenant_id is not None
    return LoginCredentialSource(
        transport,
        username=config.login_username,
        password=known_now(
            EnvCredentialSource(environ, config.login_password_env, field="login_password_env")
        ),
        tenant_id=config.login_tenant_id,
        clock=clock,
        timeout_seconds=config.timeout_seconds,
        field="login_username",
    )


def make_env_key(config: VectorVueConfig, environ: Mapping[str, str]) -> CredentialSource:
    """The API key from the environment variable api_key_env."""
    return known_now(EnvCredentialSource(environ, config.api_key_env, field="api_key_env"))


def make_file_key(config: VectorVueConfig) -> CredentialSource:
    """The API key from the file api_key_file."""
    assert config.api_key_file is not None
    return known_now(FileCredentialSource(config.api_key_file, field="api_key_file"))


def make_api_key(
    config: VectorVueConfig, clock: Clock, sources: Mapping[str, Callable[[], CredentialSource]]
) -> CredentialSource:
    """The API key from the sources credential_sources names, in its order (first that has
    it wins), cached for credential_ttl_seconds. `sources` builds each kind on demand."""
    chosen = [sources[kind]() for kind in config.credential_sources]
    source = (
        chosen[0] if len(chosen) == 1 else ChainCredentialSource(chosen, field="credential_sources")
    )
    return CachedCredentialSource(source, ttl_seconds=config.credential_ttl_seconds, clock=clock)


def signer_kind(config: VectorVueConfig) -> str:
    """The telemetry gateway signs with Ed25519 as the configured service identity; the
    integration API with HMAC-SHA256 when `signing_secret_env` is set, else not at all."""
    if config.profile == "telemetry-gateway":
        return "ed25519"
    return "none" if config.signing_secret_env is None else "hmac"


def make_ed25519_signer(config: VectorVueConfig, environ: Mapping[str, str]) -> Signer:
    """Ed25519 with the key of signing_key_file or signing_key_env, bound to client_cert."""
    assert config.client_cert is not None and config.service_identity is not None
    if config.signing_key_file is not None:
        _require_file("signing_key_file", config.signing_key_file)
        key = load_ed25519_key_file(config.signing_key_file)
    else:
        assert config.signing_key_env is not None
        source = EnvCredentialSource(environ, config.signing_key_env, field="signing_key_env")
        key = load_ed25519_key_secret(source.get())
    _require_file("client_cert", config.client_cert)
    return Ed25519Signer(
        key,
        service_identity=config.service_identity,
        client_cert_sha256=certificate_sha256(config.client_cert),
    )


def make_hmac_signer(config: VectorVueConfig, environ: Mapping[str, str]) -> Signer:
    """HMAC-SHA256 with the secret of signing_secret_env."""
    assert config.signing_secret_env is not None
    return HmacSigner(
        known_now(
            EnvCredentialSource(environ, config.signing_secret_env, field="signing_secret_env")
        )
    )


def make_compliance_key(
    config: VectorVueConfig, environ: Mapping[str, str]
) -> CredentialSource | None:
    """VectorVue's compliance signing key from compliance_key_env (ADR 0034), read now so
    that it is masked from every text; None when answers are not to be checked."""
    if config.compliance_key_env is None or config.profile == "telemetry-gateway":
        return None
    return known_now(
        EnvCredentialSource(environ, config.compliance_key_env, field="compliance_key_env")
    )


def make_unsigned() -> Signer:
    """No signature."""
    return UnsignedSigner()


def known_now(source: CredentialSource) -> CredentialSource:
    """`source`, read once now, so that its secret is known (registered to be masked from
    every text, ADR 0021) before any server text arrives: a /healthz answer, or the answer
    to a first send, may echo it. Only local sources (environment, file) are read so; a
    credential missing now is reported by the first use, as before."""
    with contextlib.suppress(VectorVueConfigError):
        source.get()
    return source


def make_audit_file(config: VectorVueConfig) -> JsonlAuditSink | None:
    """The hash-chained audit file, when audit_file is set."""
    if config.audit_file is None:
        return None
    return JsonlAuditSink(config.audit_file, fsync=config.audit_fsync)


def make_audit(audit_file: JsonlAuditSink | None) -> AuditSink:
    """Audit records as JSON lines on the `vectorvue_client.audit` logger, and in the
    audit file too when there is one."""
    if audit_file is None:
        return LoggingAuditSink()
    return FanoutAuditSink(LoggingAuditSink(), audit_file)


def make_outbox_opener(
    config: VectorVueConfig, environ: Mapping[str, str], clock: Clock
) -> Callable[[], Outbox]:
    """Opens the outbox on first use (a client that never enqueues creates no file and
    makes no connection): the SQLite file at outbox_path (or under the user's state
    directory), or the RabbitMQ queue outbox_queue (outbox_backend)."""
    if config.outbox_backend == "rabbitmq":
        return lambda: make_rabbitmq_outbox(config, environ, clock)
    path = config.outbox_path or default_outbox_path(environ)

    def open_outbox() -> Outbox:
        return SqliteOutbox(path, synchronous=config.outbox_synchronous)

    return open_outbox


def make_outbox_reader(config: VectorVueConfig, environ: Mapping[str, str], clock: Clock) -> Outbox:
    """The outbox opened for inspection, without taking it from its owner: the SQLite file
    read-only (ADR 0024), or the RabbitMQ queue (which has no owner: ADR 0032)."""
    if config.outbox_backend == "rabbitmq":
        return make_rabbitmq_outbox(config, environ, clock)
    reader: Outbox = SqliteOutbox.reader(config.outbox_path or default_outbox_path(environ))
    return reader


def make_rabbitmq_outbox(
    config: VectorVueConfig, environ: Mapping[str, str], clock: Clock
) -> Outbox:
    """The outbox on the queue outbox_queue of the broker at broker_url_env (ADR 0032)."""
    url, tls = broker_access(config, environ, 'outbox_backend = "rabbitmq"')
    from vectorvue_client.adapters.outbox_rabbitmq import RabbitMQOutbox

    outbox: Outbox = RabbitMQOutbox(
        url,
        queue=config.outbox_queue,
        tls=tls,
        now=clock.time,
        connect_timeout=config.timeout_seconds,
    )
    return outbox


def make_closers(
    config: VectorVueConfig,
    vault: Callable[[], VaultCredentialSource],
    audit_file: JsonlAuditSink | None,
) -> list[Callable[[], None]]:
    """What the client closes with itself, besides the transport: the Vault client (when
    a credential source is Vault) and the audit file."""
    closers = [vault().close] if "vault" in config.credential_sources else []
    return closers + ([audit_file.close] if audit_file is not None else [])


def make_feedback_keyring(config: VectorVueConfig) -> Keyring:
    """kid -> Ed25519 public key, from feedback_keyring_file (required to verify feedback)."""
    if config.feedback_keyring_file is None:
        raise VectorVueConfigError(
            "feedback_keyring_file",
            "is required to verify feedback: kid -> the gateway's Ed25519 public key",
        )
    return load_keyring(config.feedback_keyring_file)


def make_feedback_nonces(config: VectorVueConfig) -> NonceStore:
    """The nonces of accepted feedback answers: in feedback_nonce_file, else in memory."""
    if config.feedback_nonce_file is None:
        return MemoryNonceStore()
    return SqliteNonceStore(config.feedback_nonce_file)


def make_clock() -> Clock:
    """The system clock."""
    return SystemClock()


def make_entropy() -> Entropy:
    """The operating system's randomness."""
    return SystemEntropy()


def make_broker(config: VectorVueConfig, environ: Mapping[str, str]) -> Broker:
    """RabbitMQ at the URL in the environment variable broker_url_env (a secret from the
    moment it is read: its password is masked wherever the client writes)."""
    url, tls = broker_access(config, environ, "the bridge")
    from vectorvue_client.adapters.broker_rabbitmq import RabbitMQBroker

    return RabbitMQBroker(url, connect_timeout=config.timeout_seconds, tls=tls)


def broker_access(
    config: VectorVueConfig, environ: Mapping[str, str], user: str
) -> tuple[Secret, ssl.SSLContext | None]:
    """The broker's URL, read from broker_url_env, and the TLS context an amqps:// URL is
    verified with; a VectorVueConfigError naming the setting when either is wrong, or when
    pika (the `fleet` extra, which `user` needs) is missing."""
    name = config.broker_url_env
    value = environ.get(name, "")
    if not value.strip():
        raise VectorVueConfigError("broker_url_env", f"the environment variable {name} is not set")
    url = Secret(value)
    parts = urlsplit(value)
    if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
        raise VectorVueConfigError(
            "broker_url_env", f"{name} must hold an amqp:// or amqps:// URL with a host"
        )
    if parts.password:
        remember(parts.password, unquote(parts.password))
    if parts.scheme == "amqp":
        # The URL decides TLS: settings it would silently ignore are a mistake to report.
        for field in ("broker_ca_bundle", "broker_client_cert", "broker_client_key"):
            if getattr(config, field) is not None:
                raise VectorVueConfigError(
                    field, f"is set but {name} is an amqp:// URL (no TLS): use amqps://"
                )
    # Imported here: pika is the optional `fleet` extra, and every other client needs
    # nothing of it.
    try:
        from vectorvue_client.adapters.broker_rabbitmq import BrokerTlsSetupError, tls_context
    except ModuleNotFoundError as exc:
        raise VectorVueConfigError(
            "broker_url_env",
            f"{user} needs the fleet extra ({exc.name} is not installed): "
            "pip install 'vectorvue-client[fleet]'",
        ) from exc
    if parts.scheme != "amqps":
        return url, None
    # Always verified: the settings only choose what to trust.
    if config.broker_ca_bundle is not None:
        _require_file("broker_ca_bundle", config.broker_ca_bundle)
    client_cert = None
    if config.broker_client_cert is not None and config.broker_client_key is not None:
        _require_file("broker_client_cert", config.broker_client_cert)
        _require_file("broker_client_key", config.broker_client_key)
        client_cert = (config.broker_client_cert, config.broker_client_key)
    try:
        return url, tls_context(config.broker_ca_bundle, client_cert)
    except BrokerTlsSetupError as exc:
        raise VectorVueConfigError(f"broker_{exc.setting}", exc.rule) from None


def _require_file(field: str, path: str) -> None:
    if not os.path.isfile(path):
        raise VectorVueConfigError(field, f"file {path} does not exist or is not a regular file")


class Container(containers.DeclarativeContainer):
    """Default wiring of every port."""

    config = providers.Dependency(instance_of=VectorVueConfig)
    # Configuration is read here and in config.py only: adapters get the mapping.
    environ = providers.Object(os.environ)

    clock = providers.Singleton(make_clock)
    entropy = providers.Singleton(make_entropy)
    audit_file = providers.Singleton(make_audit_file, config=config)
    audit = providers.Singleton(make_audit, audit_file=audit_file)
    transport = providers.Selector(
        config.provided.http_backend,
        urllib3=providers.Singleton(make_transport, Urllib3Transport, config, environ),
        requests=providers.Singleton(make_transport, RequestsTransport, config, environ),
    )
    # The cognitive loop: the feedback keyring (read at the first query) and the nonces of
    # the feedback answers accepted (a SQLite file when configured, else memory).
    feedback_keyring = providers.Singleton(make_feedback_keyring, config=config)
    feedback_nonces = providers.Singleton(make_feedback_nonces, config=config)
    vault = providers.Singleton(make_vault, config=config, environ=environ)
    # One provider per kind of API key source: only those credential_sources names are built.
    key_sources = providers.Dict(
        env=providers.Singleton(make_env_key, config=config, environ=environ).provider,
        file=providers.Singleton(make_file_key, config=config).provider,
        vault=vault.provider,
    )
    credentials = providers.Selector(
        config.provided.auth,
        login=providers.Singleton(
            make_login, config=config, environ=environ, clock=clock, transport=transport
        ),
        token=providers.Singleton(
            make_api_key,
            config=config,
            clock=clock,
            sources=key_sources,
        ),
    )
    signer = providers.Selector(
        providers.Callable(signer_kind, config),
        ed25519=providers.Singleton(make_ed25519_signer, config=config, environ=environ),
        hmac=providers.Singleton(make_hmac_signer, config=config, environ=environ),
        none=providers.Singleton(make_unsigned),
    )
    compliance_key = providers.Singleton(make_compliance_key, config=config, environ=environ)
    outbox_reader = providers.Factory(
        make_outbox_reader, config=config, environ=environ, clock=clock
    )
    broker = providers.Factory(make_broker, config=config, environ=environ)
    client = providers.Factory(
        VectorVueClient,
        config=config,
        transport=transport,
        credentials=credentials,
        signer=signer,
        audit=audit,
        clock=clock,
        entropy=entropy,
        outbox=providers.Callable(make_outbox_opener, config=config, environ=environ, clock=clock),
        closers=providers.Callable(
            make_closers, config=config, vault=vault.provider, audit_file=audit_file
        ),
        feedback_keyring=feedback_keyring.provider,
        feedback_nonces=feedback_nonces.provider,
        compliance_key=compliance_key,
    )


def build_bridge(
    config: VectorVueConfig,
    *,
    create: QueueKind | None = None,
    ready: threading.Event | None = None,
) -> Bridge:
    """A RabbitMQ bridge delivering through a client with the default adapters; close its
    client when the bridge has run (see `vectorvue-client bridge`)."""
    container = Container(config=config)
    return Bridge(
        client=container.client(),
        broker=container.broker(),
        clock=container.clock(),
        create=create,
        ready=ready,
    )


def build_client(config: VectorVueConfig) -> VectorVueClient:
    """A client with the default adapters for `config`."""
    client: VectorVueClient = Container(config=config).client()
    return client


def inspect_outbox(config: VectorVueConfig) -> OutboxView:
    """The configured outbox, opened read-only and without taking it from the process
    that owns it (a running service): stats and dead letters; retries and purges raise
    VectorVueOutboxError (only the owner changes it). Close it with `close()`."""
    container = Container(config=config)
    return OutboxView(container.outbox_reader(), container.clock())
