"""VectorVueConfig: every setting of the client, typed, frozen and validated at construction.

Configuration is read here (environment, TOML) and in the container, nowhere else. Each
invalid value raises VectorVueConfigError naming the field and the rule it broke.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final, Literal, get_args
from urllib.parse import urlsplit

from vectorvue_client import config_checks as check
from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.domain.redaction import scrub

Profile = Literal["integration-api", "telemetry-gateway"]
CredentialKind = Literal["env", "file", "vault"]
VaultAuth = Literal["token", "approle"]
Fsync = Literal["always", "never"]
AuthMode = Literal["token", "login"]
OutboxSync = Literal["full", "normal"]
HttpBackend = Literal["urllib3", "requests"]
PROFILES: Final = get_args(Profile)
MAX_BATCH_SIZE: Final = 1000
MIB: Final = 1 << 20


@dataclass(frozen=True, kw_only=True, slots=True)
class VectorVueConfig:
    """Settings of one VectorVue client.

    `timeout_seconds` bounds each socket read of one attempt (`connect_timeout_seconds`,
    when set, the connect); `deadline_seconds` is the whole budget of one send, retries and
    their waits included.
    """

    base_url: str
    profile: Profile = "integration-api"
    # -- credentials ---------------------------------------------------------------------
    auth: AuthMode = "token"  # a static bearer token, or a JWT from the login endpoint
    login_username: str | None = None
    login_password_env: str = "VECTORVUE_PASSWORD"  # noqa: S105 - a variable's name
    login_tenant_id: str | None = None
    api_key_env: str = "VECTORVUE_API_KEY"
    credential_sources: tuple[CredentialKind, ...] = ("env",)
    api_key_file: str | None = None
    credential_ttl_seconds: float = 300.0
    vault_url: str | None = None
    vault_mount: str = "secret"
    vault_path: str | None = None
    vault_key: str = "api_key"
    vault_auth: VaultAuth = "token"
    vault_approle_mount: str = "approle"
    vault_token_env: str = "VAULT_TOKEN"  # noqa: S105 - the variable's name, not a secret
    vault_role_id_env: str = "VAULT_ROLE_ID"
    vault_secret_id_env: str = "VAULT_SECRET_ID"  # noqa: S105 - a name, not a secret
    vault_ca_bundle: str | None = None
    vault_timeout_seconds: float = 5.0
    # -- what the events are and who sends them ------------------------------------------
    source_system: str = "spectrastrike"
    session_output_cap: int = 512  # characters of a metasploit session's output forwarded
    operator_id: str | None = None  # gateway context when an event carries none
    campaign_id: str | None = None
    tenant_id: str | None = None
    attestation_measurement_hash: str | None = None
    gateway_rate_per_minute: int = 120  # requests per operator, kept under the gateway's
    # -- request signing -----------------------------------------------------------------
    signing_secret_env: str | None = None  # integration API: HMAC-SHA256
    service_identity: str | None = None  # telemetry gateway: X-Service-Identity
    signing_key_file: str | None = None  # telemetry gateway: Ed25519 key file
    signing_key_env: str | None = None  # ... or the key in an environment variable
    # -- transport -----------------------------------------------------------------------
    http_backend: HttpBackend = "urllib3"  # "requests": the same rules over requests
    timeout_seconds: float = 10.0
    connect_timeout_seconds: float | None = None
    deadline_seconds: float = 60.0
    verify_tls: bool = True
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    pinned_cert_sha256: tuple[str, ...] = ()
    proxy_url: str | None = None
    proxy_from_env: bool = False
    pool_size: int = 10
    pool_max_idle_seconds: float = 4.0  # below uvicorn's 5 s keep-alive
    max_response_bytes: int = MIB
    gzip_requests: bool = False
    # -- delivery ------------------------------------------------------------------------
    max_retries: int = 3
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    batch_size: int = 250
    max_batch_bytes: int = MIB
    # -- outbox --------------------------------------------------------------------------
    outbox_path: str | None = None  # default: <state dir>/vectorvue-client/outbox.sqlite3
    outbox_synchronous: OutboxSync = "full"
    outbox_max_attempts: int | None = None  # None: transient failures are retried forever
    outbox_backoff_base_seconds: float = 1.0
    outbox_backoff_max_seconds: float = 300.0
    worker_interval_seconds: float = 1.0
    # -- audit ---------------------------------------------------------------------------
    audit_file: str | None = None
    audit_fsync: Fsync = "always"

    def __post_init__(self) -> None:
        for name, rule in _CHECKS.items():
            rule(name, getattr(self, name))
        _check_combinations(self)
        # Normalise pins once so comparisons elsewhere are plain string equality.
        object.__setattr__(
            self, "pinned_cert_sha256", tuple(p.lower() for p in self.pinned_cert_sha256)
        )

    @classmethod
    def from_env(
        cls, prefix: str = "VECTORVUE_", environ: Mapping[str, str] | None = None
    ) -> VectorVueConfig:
        """Settings from `<prefix><FIELD>` variables (e.g. VECTORVUE_BASE_URL); tuples are
        comma-separated. Unset variables keep their defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            key = prefix + field.name.upper()
            if key in env:
                values[field.name] = env_value(field.name, key, env[key])
        refuse_unknown_variables(env, prefix, values)
        if "base_url" not in values:
            raise VectorVueConfigError("base_url", f"is required (set {prefix}BASE_URL)")
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> VectorVueConfig:
        """Settings from a TOML file: a [vectorvue] table, or top-level keys."""
        table = read_toml_table(path)
        unknown = sorted(set(table) - {f.name for f in fields(cls)})
        if unknown:
            raise VectorVueConfigError(unknown[0], f"unknown setting in {path}")
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in table.items()
        }
        if "base_url" not in values:
            raise VectorVueConfigError("base_url", f"is required in {path}")
        return cls(**values)


def refuse_unknown_variables(
    environ: Mapping[str, str], prefix: str, values: Mapping[str, Any]
) -> None:
    """A `<prefix>*` variable that is neither a setting nor a variable a setting names (the
    API key's, a password's) is refused: a typo such as VECTORVUE_PINNED_CERT_SHA would
    otherwise turn pinning off without a word."""
    settings = {prefix + f.name.upper() for f in fields(VectorVueConfig)}
    # The variables the *_env settings name, configured or by default (a default-named one
    # left in the environment is harmless, and refusing it would only get in the way).
    env_fields = [f for f in fields(VectorVueConfig) if f.name.endswith("_env")]
    named = {values.get(f.name) for f in env_fields} | {f.default for f in env_fields}
    for key in environ:
        if key.startswith(prefix) and key not in settings and key not in named:
            near = difflib.get_close_matches(key, sorted(settings), n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise VectorVueConfigError(key, f"is not a setting{hint}")


def read_toml_table(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings table of a TOML file: its [vectorvue] table, or its top level."""
    try:
        with Path(path).open("rb") as handle:
            document = tomllib.load(handle)
    except OSError as exc:
        raise VectorVueConfigError("config file", f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise VectorVueConfigError("config file", f"{path} is not valid TOML: {exc}") from None
    table = document.get("vectorvue", document)
    if not isinstance(table, dict):
        raise VectorVueConfigError("vectorvue", f"must be a table in {path}")
    return table


def default_outbox_path(environ: Mapping[str, str]) -> str:
    """Where the outbox lives when outbox_path is not set: the user's state directory
    ($XDG_STATE_HOME, else ~/.local/state), in vectorvue-client/outbox.sqlite3."""
    state = environ.get("XDG_STATE_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(state, "vectorvue-client", "outbox.sqlite3")


def proxy_from_environment(environ: Mapping[str, str], base_url: str) -> str | None:
    """The HTTPS proxy the environment names for `base_url` (HTTPS_PROXY, honouring
    NO_PROXY), for `proxy_from_env`. Read here because configuration is read nowhere else."""
    proxy = environ.get("HTTPS_PROXY") or environ.get("https_proxy")
    if not proxy:
        return None
    host = (urlsplit(base_url).hostname or "").lower()
    for entry in (environ.get("NO_PROXY") or environ.get("no_proxy") or "").split(","):
        entry = entry.strip().lower().lstrip(".")
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return None
    check.url(("http", "https"), path_allowed=False)("HTTPS_PROXY", proxy)
    return proxy


def _check_combinations(config: VectorVueConfig) -> None:
    if config.client_key is not None and config.client_cert is None:
        raise VectorVueConfigError("client_key", "is set without client_cert")
    if config.client_cert is not None and config.client_key is None:
        raise VectorVueConfigError(
            "client_cert", "needs client_key: a client certificate without its key is useless"
        )
    if config.backoff_base_seconds > config.backoff_max_seconds:
        raise VectorVueConfigError("backoff_base_seconds", "must not exceed backoff_max_seconds")
    if config.outbox_backoff_base_seconds > config.outbox_backoff_max_seconds:
        raise VectorVueConfigError(
            "outbox_backoff_base_seconds", "must not exceed outbox_backoff_max_seconds"
        )
    if config.ca_bundle is not None and not config.verify_tls:
        raise VectorVueConfigError(
            "verify_tls",
            "is false while ca_bundle is set: verify against the bundle, or not at all",
        )
    if config.proxy_url is not None and config.proxy_from_env:
        raise VectorVueConfigError("proxy_url", "set either proxy_url or proxy_from_env, not both")
    if "file" in config.credential_sources and config.api_key_file is None:
        raise VectorVueConfigError("api_key_file", "is required when credential_sources has file")
    if "vault" in config.credential_sources:
        for name in ("vault_url", "vault_path"):
            if getattr(config, name) is None:
                raise VectorVueConfigError(name, "is required when credential_sources has vault")
    if config.auth == "login":
        for name in ("login_username", "login_tenant_id"):
            if getattr(config, name) is None:
                raise VectorVueConfigError(name, "is required when auth is login")
        if config.profile != "integration-api":
            raise VectorVueConfigError("auth", "login exists on the integration API only")
    if config.profile == "telemetry-gateway":
        if config.client_cert is None:
            raise VectorVueConfigError(
                "client_cert", "is required by the telemetry gateway (mutual TLS)"
            )
        if config.service_identity is None:
            raise VectorVueConfigError(
                "service_identity", "is required by the telemetry gateway (X-Service-Identity)"
            )
        if (config.signing_key_file is None) == (config.signing_key_env is None):
            raise VectorVueConfigError(
                "signing_key_file",
                "the telemetry gateway needs exactly one of signing_key_file or signing_key_env",
            )


_CHECKS: Final[dict[str, check.Check]] = {
    "base_url": check.url(("https",)),
    "profile": check.choice(PROFILES),
    "auth": check.choice(get_args(AuthMode)),
    "login_username": check.optional_text,
    "login_password_env": check.env_name(optional=False),
    "login_tenant_id": check.uuid,
    "api_key_env": check.env_name(optional=False),
    "credential_sources": check.choices(get_args(CredentialKind)),
    "api_key_file": check.optional_path,
    "credential_ttl_seconds": check.seconds(),
    "vault_url": check.url(("https",)),
    "vault_mount": check.text,
    "vault_path": check.optional_text,
    "vault_key": check.text,
    "vault_auth": check.choice(get_args(VaultAuth)),
    "vault_approle_mount": check.text,
    "vault_token_env": check.env_name(optional=False),
    "vault_role_id_env": check.env_name(optional=False),
    "vault_secret_id_env": check.env_name(optional=False),
    "vault_ca_bundle": check.optional_path,
    "vault_timeout_seconds": check.seconds(),
    "source_system": check.name,
    "session_output_cap": check.int_range(0, 4096),
    "operator_id": check.party,
    "campaign_id": check.party,
    "tenant_id": check.uuid,
    "attestation_measurement_hash": check.hex64,
    "gateway_rate_per_minute": check.int_range(1, 100_000),
    "signing_secret_env": check.env_name(optional=True),
    "service_identity": check.identity,
    "signing_key_file": check.optional_path,
    "signing_key_env": check.env_name(optional=True),
    "http_backend": check.choice(get_args(HttpBackend)),
    "timeout_seconds": check.seconds(),
    "connect_timeout_seconds": check.seconds(optional=True),
    "deadline_seconds": check.seconds(),
    "verify_tls": check.flag,
    "ca_bundle": check.optional_path,
    "client_cert": check.optional_path,
    "client_key": check.optional_path,
    "pinned_cert_sha256": check.pins,
    "proxy_url": check.url(("http", "https"), path_allowed=False),
    "proxy_from_env": check.flag,
    "pool_size": check.int_range(1, 1000),
    "pool_max_idle_seconds": check.seconds(),
    "max_response_bytes": check.int_range(1024, None),
    "gzip_requests": check.flag,
    "max_retries": check.int_range(0, 100),
    "backoff_base_seconds": check.seconds(),
    "backoff_max_seconds": check.seconds(),
    "batch_size": check.int_range(1, MAX_BATCH_SIZE),
    "max_batch_bytes": check.int_range(1024, None),
    "outbox_path": check.optional_path,
    "outbox_synchronous": check.choice(get_args(OutboxSync)),
    "outbox_max_attempts": check.optional_int_range(1, 1_000_000),
    "outbox_backoff_base_seconds": check.seconds(),
    "outbox_backoff_max_seconds": check.seconds(),
    "worker_interval_seconds": check.seconds(),
    "audit_file": check.optional_path,
    "audit_fsync": check.choice(get_args(Fsync)),
}


def _kind(annotation: object) -> str:
    # Annotations are strings here (from __future__ import annotations): the field's type
    # decides how an environment string converts, so no list of names can fall behind.
    text = str(annotation)
    for prefix, kind in (("float", "number"), ("int", "integer"), ("bool", "bool")):
        if text == prefix or text == f"{prefix} | None":
            return kind
    return "tuple" if text.startswith(("tuple", "Tuple")) else "text"


_KINDS: Final = {field.name: _kind(field.type) for field in fields(VectorVueConfig)}


def env_value(name: str, key: str, text: str) -> Any:
    """Convert an environment (or flag) string to field `name`'s type, naming `key` (the
    variable or flag) on error."""
    kind = _KINDS[name]
    try:
        if kind == "number":
            return float(text)
        if kind == "integer":
            return int(text)
        if kind == "bool":
            lowered = text.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(text)
    except ValueError:
        raise VectorVueConfigError(
            name, f"{key} must be a {kind} (got {scrub(text)[:40]!r})"
        ) from None
    if kind == "tuple":
        return tuple(p.strip() for p in text.split(",") if p.strip())
    return text
