"""Where each setting comes from: the resolution the command line uses, with provenance.

Precedence, lowest first: the field's default, a TOML file, VECTORVUE_* environment
variables, then flags. Configuration is read here and in config.py only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, Final

from vectorvue_client.config import (
    VectorVueConfig,
    env_value,
    read_toml_table,
    refuse_unknown_variables,
)
from vectorvue_client.domain.errors import VectorVueConfigError

PREFIX: Final = "VECTORVUE_"
# Settings that name where a secret is; check shows whether that place holds one.
SECRET_NAMES: Final = (
    "api_key_env",
    "signing_secret_env",
    "signing_key_env",
    "login_password_env",
    "vault_token_env",
    "vault_role_id_env",
    "vault_secret_id_env",
)


@dataclass(frozen=True, slots=True)
class Resolved:
    """A validated configuration and, per field, where its value came from: "default",
    "toml:<path>", "env:<VARIABLE>" or "flag"."""

    config: VectorVueConfig
    sources: Mapping[str, str]


def resolve(
    *,
    toml_path: str | None = None,
    flags: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Resolved:
    """Resolve every field; VectorVueConfigError names the field (and the variable or file)
    on a bad value. Flag values are strings, converted as environment values are."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    known = {f.name for f in fields(VectorVueConfig)}
    if toml_path is not None:
        for name, value in read_toml_table(toml_path).items():
            if name not in known:
                raise VectorVueConfigError(name, f"unknown setting in {toml_path}")
            values[name] = tuple(value) if isinstance(value, list) else value
            sources[name] = f"toml:{toml_path}"
    for name in known:
        key = PREFIX + name.upper()
        if key in env:
            values[name] = env_value(name, key, env[key])
            sources[name] = f"env:{key}"
    refuse_unknown_variables(env, PREFIX, values)
    for name, text in (flags or {}).items():
        if name not in known:
            raise VectorVueConfigError(name, "unknown setting (see docs/configuration.md)")
        values[name] = env_value(name, f"--set {name}", text)
        sources[name] = "flag"
    if "base_url" not in values:
        raise VectorVueConfigError(
            "base_url", f"is required (--base-url, {PREFIX}BASE_URL, or base_url in --config)"
        )
    config = VectorVueConfig(**values)
    for field in fields(VectorVueConfig):
        if field.name not in sources:
            has_default = field.default is not MISSING or field.default_factory is not MISSING
            sources[field.name] = "default" if has_default else "required"
    return Resolved(config, sources)


def secret_presence(
    config: VectorVueConfig, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """For each setting that names a secret's variable: "set" or "unset" (never the value)."""
    env = os.environ if environ is None else environ
    out = {}
    for name in SECRET_NAMES:
        variable = getattr(config, name)
        if variable is not None:
            out[name] = "set" if env.get(variable) else "unset"
    return out
