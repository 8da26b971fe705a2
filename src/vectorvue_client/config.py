"""VectorVueConfig: every setting of the client, typed, frozen and validated at construction.

Configuration is read here (environment, TOML) and in the container, nowhere else. Each
invalid value raises VectorVueConfigError naming the field and the rule it broke.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.domain.redaction import scrub

Profile = Literal["integration-api", "telemetry-gateway"]
PROFILES: Final = ("integration-api", "telemetry-gateway")
_ENV_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PIN: Final = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_BATCH_SIZE: Final = 1000
# The gateway refuses bodies over 1 MiB (413); the integration API states no cap.
DEFAULT_MAX_BATCH_BYTES: Final = 1 << 20


@dataclass(frozen=True, kw_only=True, slots=True)
class VectorVueConfig:
    """Settings of one VectorVue client.

    `timeout_seconds` bounds each socket operation of one attempt; `deadline_seconds` is the
    whole budget of one send, retries and their waits included.
    """

    base_url: str
    api_key_env: str = "VECTORVUE_API_KEY"
    signing_secret_env: str | None = None
    timeout_seconds: float = 10.0
    verify_tls: bool = True
    max_retries: int = 3
    batch_size: int = 250
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    pinned_cert_sha256: tuple[str, ...] = ()
    profile: Profile = "integration-api"
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    deadline_seconds: float = 60.0
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    pool_size: int = 10

    def __post_init__(self) -> None:
        for name, check in _CHECKS.items():
            check(self, name, getattr(self, name))
        if self.client_key is not None and self.client_cert is None:
            raise VectorVueConfigError("client_key", "is set without client_cert")
        if self.client_cert is not None and self.client_key is None:
            raise VectorVueConfigError(
                "client_cert", "needs client_key: a client certificate without its key is useless"
            )
        if self.backoff_base_seconds > self.backoff_max_seconds:
            raise VectorVueConfigError(
                "backoff_base_seconds", "must not exceed backoff_max_seconds"
            )
        # Normalise pins once so comparisons elsewhere are plain string equality.
        object.__setattr__(
            self, "pinned_cert_sha256", tuple(p.lower() for p in self.pinned_cert_sha256)
        )

    @classmethod
    def from_env(
        cls, prefix: str = "VECTORVUE_", environ: Mapping[str, str] | None = None
    ) -> VectorVueConfig:
        """Settings from `<prefix><FIELD>` variables (e.g. VECTORVUE_BASE_URL); pins are
        comma-separated. Unset variables keep their defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            key = prefix + field.name.upper()
            if key in env:
                values[field.name] = _from_text(field.name, key, env[key])
        if "base_url" not in values:
            raise VectorVueConfigError("base_url", f"is required (set {prefix}BASE_URL)")
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> VectorVueConfig:
        """Settings from a TOML file: a [vectorvue] table, or top-level keys."""
        try:
            with Path(path).open("rb") as handle:
                document = tomllib.load(handle)
        except OSError as exc:
            raise VectorVueConfigError(
                "config file", f"cannot read {path}: {exc.strerror}"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise VectorVueConfigError("config file", f"{path} is not valid TOML: {exc}") from None
        table = document.get("vectorvue", document)
        if not isinstance(table, dict):
            raise VectorVueConfigError("vectorvue", "must be a table")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise VectorVueConfigError(unknown[0], f"unknown setting in {path}")
        values = dict(table)
        if isinstance(values.get("pinned_cert_sha256"), list):
            values["pinned_cert_sha256"] = tuple(values["pinned_cert_sha256"])
        if "base_url" not in values:
            raise VectorVueConfigError("base_url", f"is required in {path}")
        return cls(**values)


# -- validation --------------------------------------------------------------------------
def _base_url(_: VectorVueConfig, name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise VectorVueConfigError(name, "must be a non-empty string")
    shown = scrub(value)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise VectorVueConfigError(name, f"{shown!r} is not a valid URL") from None
    if parts.scheme != "https":
        raise VectorVueConfigError(
            name, f"must use https:// (got {parts.scheme or 'no'} scheme): plain HTTP is refused"
        )
    if not parts.hostname:
        raise VectorVueConfigError(name, f"{shown!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise VectorVueConfigError(
            name, "must not carry credentials (user:password@); use api_key_env"
        )
    if parts.query or parts.fragment:
        raise VectorVueConfigError(name, "must not have a query string or fragment")


def _env_name(_: VectorVueConfig, name: str, value: object) -> None:
    if value is None and name == "signing_secret_env":
        return
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise VectorVueConfigError(
            name, "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"
        )


def _positive_seconds(_: VectorVueConfig, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise VectorVueConfigError(name, "must be a number of seconds")
    if not (math.isfinite(value) and value > 0):
        raise VectorVueConfigError(
            name, f"must be a positive, finite number of seconds (got {value!r})"
        )


def _int_range(low: int, high: int | None) -> Callable[[VectorVueConfig, str, object], None]:
    def check(_: VectorVueConfig, name: str, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise VectorVueConfigError(name, "must be an integer")
        if value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f">= {low}"
            raise VectorVueConfigError(name, f"must be {bounds} (got {value})")

    return check


def _flag(_: VectorVueConfig, name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise VectorVueConfigError(name, "must be true or false")


def _optional_path(_: VectorVueConfig, name: str, value: object) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise VectorVueConfigError(name, "must be a file path")


def _pins(_: VectorVueConfig, name: str, value: object) -> None:
    if not isinstance(value, tuple):
        raise VectorVueConfigError(name, "must be a tuple of SHA-256 fingerprints")
    for i, pin in enumerate(value):
        if not isinstance(pin, str) or not _PIN.match(pin):
            raise VectorVueConfigError(
                f"{name}[{i}]", "must be 64 hexadecimal characters (a SHA-256, no colons)"
            )


def _profile(_: VectorVueConfig, name: str, value: object) -> None:
    if value not in PROFILES:
        raise VectorVueConfigError(name, f"must be one of {', '.join(PROFILES)} (got {value!r})")


_CHECKS: Final[dict[str, Callable[[VectorVueConfig, str, object], None]]] = {
    "base_url": _base_url,
    "api_key_env": _env_name,
    "signing_secret_env": _env_name,
    "timeout_seconds": _positive_seconds,
    "verify_tls": _flag,
    "max_retries": _int_range(0, 100),
    "batch_size": _int_range(1, MAX_BATCH_SIZE),
    "ca_bundle": _optional_path,
    "client_cert": _optional_path,
    "client_key": _optional_path,
    "pinned_cert_sha256": _pins,
    "profile": _profile,
    "max_batch_bytes": _int_range(1024, None),
    "deadline_seconds": _positive_seconds,
    "backoff_base_seconds": _positive_seconds,
    "backoff_max_seconds": _positive_seconds,
    "pool_size": _int_range(1, 1000),
}


def _from_text(name: str, key: str, text: str) -> Any:
    """Convert an environment string to the field's type, naming the variable on error."""
    kind = _ENV_TYPES.get(name, "str")
    try:
        if kind == "float":
            return float(text)
        if kind == "int":
            return int(text)
        if kind == "bool":
            lowered = text.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(text)
        if kind == "pins":
            return tuple(p.strip() for p in text.split(",") if p.strip())
    except ValueError:
        raise VectorVueConfigError(
            name, f"{key} must be a {kind} (got {scrub(text)[:40]!r})"
        ) from None
    return text


_ENV_TYPES: Final = {
    "timeout_seconds": "float",
    "deadline_seconds": "float",
    "backoff_base_seconds": "float",
    "backoff_max_seconds": "float",
    "max_retries": "int",
    "batch_size": "int",
    "max_batch_bytes": "int",
    "pool_size": "int",
    "verify_tls": "bool",
    "pinned_cert_sha256": "pins",
}
