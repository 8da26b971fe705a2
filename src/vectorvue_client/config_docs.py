"""docs/configuration.md, rendered from VectorVueConfig itself.

Names, environment variables, TOML keys, types, defaults, sections and descriptions all come
from the Struct's fields (a description and a section are in each field's Meta). A field
without them is an error, never a silent gap. Regenerate the file with:

    .venv/bin/python -m vectorvue_client.config_docs > docs/configuration.md
"""

import sys
import types
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin

import msgspec

from vectorvue_client.config import PREFIX, VectorVueConfig

REGENERATE: Final = ".venv/bin/python -m vectorvue_client.config_docs > docs/configuration.md"


class FieldDocsError(LookupError):
    """A field of the configuration has no description or no section in its Meta."""


def described(annotation: Any) -> tuple[str, str]:
    """The section and description the Meta of a field's type carries ("" when none)."""
    extras = get_args(annotation)[1:] if get_origin(annotation) is Annotated else ()
    metas = [m for m in extras if isinstance(m, msgspec.Meta)]
    section = next((m.extra["section"] for m in metas if m.extra and "section" in m.extra), "")
    return section, next((m.description for m in metas if m.description), "")


def render_type(annotation: Any) -> str:
    """A field's type as Python spells it, aliases expanded (`Literal["a", "b"]`)."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return render_type(args[0])
    if origin is Literal:
        return "Literal[" + ", ".join(render_value(a) for a in args) + "]"
    if origin in (types.UnionType, Union):
        return " | ".join(render_type(a) for a in args)
    if origin is tuple:
        return f"tuple[{render_type(args[0])}, ...]"
    if annotation is type(None):
        return "None"
    if isinstance(annotation, type):
        return annotation.__name__
    raise FieldDocsError(f"no rendering for the type {annotation!r}")


def render_value(value: object) -> str:
    """A default as it is written in Python source (double quotes, as ruff formats it)."""
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        items = [render_value(v) for v in value]
        return "(" + items[0] + ",)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    raise FieldDocsError(f"no rendering for the default {value!r}")


_PREAMBLE: Final = f"""\
# Configuration reference

Every setting of the client is a field of `VectorVueConfig`
(src/vectorvue_client/config.py), listed here in definition order. This file is generated
from the code: do not edit it by hand. After changing a field, its rule or its description
(each field's `Meta`), regenerate it with

    {REGENERATE}

tests/docs/test_configuration_reference.py fails while this file and the code disagree.

## Where settings come from

- In code: `VectorVueConfig(base_url=..., ...)` with keyword arguments; a changed copy
  with `msgspec.structs.replace(config, batch_size=100)`, checked again.
- `VectorVueConfig.from_env()` reads one variable per field, `{PREFIX}<FIELD>` in
  upper case (`{PREFIX}BASE_URL`, `{PREFIX}PINNED_CERT_SHA256`). Tuples are
  comma-separated (blank entries dropped); booleans accept 1/0, true/false, yes/no, on/off
  in any case; numbers are parsed, anything else is taken as written. A field whose default
  is `None` cannot be set back to `None` from the environment: leave the variable unset.
  A variable with the prefix that names no field is refused, with the nearest setting's
  name as a suggestion (`{PREFIX}PINNED_CERT_SHA` would otherwise turn pinning off
  silently); the variables the `*_env` settings name, configured or by default
  (`{PREFIX}API_KEY`, `{PREFIX}PASSWORD`), share the prefix and are allowed.
- `VectorVueConfig.from_toml(path)` reads a `[vectorvue]` table (or, without one, the
  top-level keys) whose keys are the field names; TOML arrays become tuples, and a key
  that names no field is refused. TOML has no null: omit a key to keep a `None` default.
- The `vectorvue-client` command line combines them (`resolve()` in config.py, which
  `from_env` and `from_toml` use too). Precedence, highest first: flags (`--base-url`,
  `--profile`, `--outbox-path`, and `--set FIELD=VALUE` for any field; their values are
  read as environment values are), then `{PREFIX}*` variables, then the TOML file given
  with `--config`, then the default; a valid flag replaces an invalid variable of the same
  setting. `vectorvue-client config check` shows each setting and where it came from, and
  on a bad configuration still shows them all, every invalid one marked with the rule it
  breaks (its value not shown: it may be a secret pasted into the wrong variable), then
  exits 2. In the library, `from_env` and `from_toml` each read their one source.

## Secrets are never values

No setting holds a secret. A setting ending in `_env` holds the NAME of an environment
variable that holds the secret (`api_key_env`, `login_password_env`, `signing_secret_env`,
`signing_key_env`, `vault_token_env`, `vault_role_id_env`, `vault_secret_id_env`); a
file setting holds a path (`api_key_file`, `signing_key_file`, `client_key`,
`broker_client_key`). What they
name is read when it is needed and wrapped in `Secret` at once (see docs/security.md).
`base_url`, `vault_url` and `proxy_url` may not carry `user:password@`.

## Validation

A `VectorVueConfig` is checked when it is constructed: each field against its rule, then
the rules between fields. The first failure raises `VectorVueConfigError`, whose `field`
names the setting and `rule` says what it broke (`str(error)` is `"field: rule"`); a value
from a flag, a variable or a TOML file also names where it came from. Values are not
quoted, except a choice's and a URL's (scrubbed of secrets). What the settings point at is
checked later: files named by `ca_bundle`, `client_cert`, `client_key`, `signing_key_file`,
`vault_ca_bundle` and `audit_file` when the client is built, and `broker_ca_bundle`,
`broker_client_cert`, `broker_client_key` when the bridge is; `outbox_path` at first use;
secrets in the environment, files and Vault when they are first fetched (the gateway's
signing key when the client is built).

Rules between fields:

- `client_cert` and `client_key` go together; so do `broker_client_cert` and
  `broker_client_key`. The `broker_*` TLS settings need an `amqps://` broker URL (checked
  when the bridge is built, since the URL is in the environment).
- `backoff_base_seconds` <= `backoff_max_seconds`, and `outbox_backoff_base_seconds` <=
  `outbox_backoff_max_seconds`.
- Not both `proxy_url` and `proxy_from_env`; not `verify_tls = false` with `ca_bundle`.
- `credential_sources` with `"file"` needs `api_key_file`; with `"vault"`, `vault_url` and
  `vault_path`.
- `auth = "login"` needs `login_username` and `login_tenant_id`, and the integration-api
  profile.
- `profile = "telemetry-gateway"` needs `client_cert` (so `client_key`),
  `service_identity`, and exactly one of `signing_key_file` and `signing_key_env`.
"""


def reference_markdown(config_type: type[msgspec.Struct] = VectorVueConfig) -> str:
    """docs/configuration.md, rendered from the fields of `config_type`. Raises
    FieldDocsError naming a field whose Meta has no description or no section."""
    parts = [_PREAMBLE]
    current = ""
    for field in msgspec.structs.fields(config_type):
        section, description = described(field.type)
        if not (section and description.strip()):
            raise FieldDocsError(
                f"{field.name} has no description or section in its Meta (add them in "
                f"src/vectorvue_client/config.py, then run {REGENERATE})"
            )
        if section != current:
            if f"\n## {section}\n" in parts:
                raise FieldDocsError(f"{field.name}: the fields of {section!r} are not together")
            parts.append(f"\n## {section}\n")
            current = section
        kind = render_type(field.type)
        variable = f"`{PREFIX}{field.name.upper()}`"
        if kind.startswith("tuple"):
            variable += " (comma-separated)"
        elif kind == "bool":
            variable += " (1/0, true/false, yes/no, on/off)"
        default = "none (required)" if field.required else f"`{render_value(field.default)}`"
        facts = " · ".join(
            (
                f"**Environment** {variable}",
                f"**TOML** `{field.name}`",
                f"**Type** `{kind}`",
                f"**Default** {default}",
            )
        )
        parts.append(f"\n### `{field.name}`\n\n{facts}\n\n{description}\n")
    return "".join(parts)


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(reference_markdown())
