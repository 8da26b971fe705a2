"""The dependency-injector container: the only place that knows which adapter fills
which port. Tests and embedders override a provider to swap one:

    container = Container(config=config)
    container.transport.override(FakeTransport(...))
    client = container.client()

Each provider calls a factory annotated with the port it fills, so mypy --strict checks
here that every default adapter fits its Protocol.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dependency_injector import containers, providers

from vectorvue_client.adapters.audit_logging import LoggingAuditSink
from vectorvue_client.adapters.clock_system import SystemClock
from vectorvue_client.adapters.credentials_env import EnvCredentialSource
from vectorvue_client.adapters.entropy_system import SystemEntropy
from vectorvue_client.adapters.signer_hmac import HmacSigner
from vectorvue_client.adapters.signer_none import UnsignedSigner
from vectorvue_client.adapters.transport_requests import RequestsTransport
from vectorvue_client.client import VectorVueClient
from vectorvue_client.config import VectorVueConfig
from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.ports import AuditSink, Clock, CredentialSource, Entropy, Signer, Transport
from vectorvue_client.version import USER_AGENT


def make_transport(config: VectorVueConfig) -> Transport:
    """requests + urllib3, verifying against `ca_bundle`, the system store, or (only when
    verify_tls is explicitly false) nothing."""
    if config.pinned_cert_sha256:
        # Pins must be checked during the handshake, which this transport cannot do yet;
        # refusing is safer than silently ignoring a pin the operator asked for.
        raise VectorVueConfigError(
            "pinned_cert_sha256", "certificate pinning is not supported by this transport yet"
        )
    verify: bool | str = config.verify_tls
    if config.ca_bundle is not None:
        _require_file("ca_bundle", config.ca_bundle)
        verify = config.ca_bundle
    client_cert = None
    if config.client_cert is not None and config.client_key is not None:
        _require_file("client_cert", config.client_cert)
        _require_file("client_key", config.client_key)
        client_cert = (config.client_cert, config.client_key)
    return RequestsTransport(
        config.base_url,
        verify=verify,
        client_cert=client_cert,
        pool_size=config.pool_size,
        user_agent=USER_AGENT,
    )


def make_credentials(config: VectorVueConfig, environ: Mapping[str, str]) -> CredentialSource:
    """The API key from the environment variable named by `api_key_env`."""
    return EnvCredentialSource(environ, config.api_key_env, field="api_key_env")


def make_signer(config: VectorVueConfig, environ: Mapping[str, str]) -> Signer:
    """HMAC request signing when `signing_secret_env` is set, else no signature."""
    if config.signing_secret_env is None:
        return UnsignedSigner()
    return HmacSigner(
        EnvCredentialSource(environ, config.signing_secret_env, field="signing_secret_env")
    )


def make_audit() -> AuditSink:
    """Audit records as JSON lines on the `vectorvue_client.audit` logger."""
    return LoggingAuditSink()


def make_clock() -> Clock:
    """The system clock."""
    return SystemClock()


def make_entropy() -> Entropy:
    """The operating system's randomness."""
    return SystemEntropy()


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
    audit = providers.Singleton(make_audit)
    credentials = providers.Singleton(make_credentials, config=config, environ=environ)
    signer = providers.Singleton(make_signer, config=config, environ=environ)
    transport = providers.Singleton(make_transport, config=config)
    client = providers.Factory(
        VectorVueClient,
        config=config,
        transport=transport,
        credentials=credentials,
        signer=signer,
        audit=audit,
        clock=clock,
        entropy=entropy,
    )


def build_client(config: VectorVueConfig) -> VectorVueClient:
    """A client with the default adapters for `config`."""
    client: VectorVueClient = Container(config=config).client()
    return client
