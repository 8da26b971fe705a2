"""The configuration reference, rendered from VectorVueConfig itself.

`FIELD_DOCS` describes every field; `reference_markdown()` renders docs/configuration.md
from the dataclass (names, environment variables, TOML keys, types and defaults come from
the code, descriptions from FIELD_DOCS, sections from the `# -- theme ---` comments of the
class body). A field without a description, or a description of a field that no longer
exists, is an error, never a silent gap. Regenerate the file with:

    .venv/bin/python -m vectorvue_client.config_docs > docs/configuration.md
"""

from __future__ import annotations

import inspect
import re
import sys
import types
from collections.abc import Mapping
from dataclasses import MISSING, Field, fields
from typing import Any, Final, Literal, get_args, get_origin, get_type_hints

from vectorvue_client import config as config_module
from vectorvue_client.config import VectorVueConfig

ENV_PREFIX: Final = "VECTORVUE_"
TOML_TABLE: Final = "vectorvue"
REGENERATE: Final = ".venv/bin/python -m vectorvue_client.config_docs > docs/configuration.md"
# The title of the fields that come before the first section comment of the class body.
FIRST_SECTION: Final = "Endpoint and profile"

FIELD_DOCS: Final[Mapping[str, str]] = types.MappingProxyType(
    {
        # -- endpoint and profile ------------------------------------------------------------
        "base_url": (
            "VectorVue's base URL: `https://` with a host, and no `user:password@`, query "
            "string or fragment (plain HTTP is refused). Request paths such as "
            "`/api/v1/integrations/spectrastrike/events` are appended to it, so a path prefix "
            'is kept; the login of `auth = "login"` goes to the same place.'
        ),
        "profile": (
            'Which ingest contract to speak: `"integration-api"` (bearer token, events and '
            "findings, batches, Idempotency-Key, optional HMAC signing) or "
            '`"telemetry-gateway"` (one Ed25519-signed event per request over mutual TLS, no '
            "bearer token, paced per operator). The gateway requires `client_cert`, "
            "`client_key`, `service_identity` and exactly one of `signing_key_file` or "
            "`signing_key_env`."
        ),
        # -- credentials ---------------------------------------------------------------------
        "auth": (
            'How the integration API\'s bearer token is obtained: `"token"` sends the API key '
            'found through `credential_sources`; `"login"` logs in at '
            "`POST /api/v1/client/auth/login` with `login_username`, the password named by "
            "`login_password_env` and `login_tenant_id`, and sends the JWT it gets (a new login "
            "60 s before the token's `exp`, and once after a 401 about the token). "
            '`"login"` exists on the integration-api profile only; with it the API-key settings '
            "(`credential_sources`, `api_key_*`, `credential_ttl_seconds`) are not used."
        ),
        "login_username": (
            'The username of the login; required (non-empty) when `auth` is `"login"`, '
            "unused otherwise."
        ),
        "login_password_env": (
            "Name of the environment variable that holds the login password "
            '(`auth = "login"`). It is read at every login, so a rotated password is used at '
            "the next one; the password itself is never a setting."
        ),
        "login_tenant_id": (
            "The tenant UUID (36 characters, hex and dashes) sent in the login body; required "
            'when `auth` is `"login"`, unused otherwise.'
        ),
        "api_key_env": (
            "Name of the environment variable that holds the integration API's key, for the "
            '`"env"` credential source. It is read at each fetch (then cached for '
            "`credential_ttl_seconds`). The telemetry gateway sends no bearer token and does "
            "not use it."
        ),
        "credential_sources": (
            "Where the API key is looked up, in order of preference: a non-empty tuple of "
            'distinct `"env"` (`api_key_env`), `"file"` (`api_key_file`) and `"vault"` '
            "(the `vault_*` settings). At each fetch the first source that has the key wins; "
            'when none has it, the error gives every source\'s reason. `"file"` requires '
            '`api_key_file`; `"vault"` requires `vault_url`, `vault_path` and the `vault` '
            "extra (hvac)."
        ),
        "api_key_file": (
            "Path of a file that holds the API key (a mounted Kubernetes or Docker secret), "
            'for the `"file"` source. It is read at each fetch: one trailing newline is '
            "stripped, at most 64 KiB is accepted, symlinks are followed. A file that group or "
            "others may read or write is still used, with one warning on the "
            "`vectorvue_client.credentials` logger."
        ),
        "credential_ttl_seconds": (
            "Seconds (positive) an API key fetched from `credential_sources` is kept in "
            "memory before it is fetched again; a 401 about the credential drops it at once. "
            "When a refresh fails the error is raised: a key is never used past its TTL. Not "
            'used with `auth = "login"` (the JWT\'s `exp` decides).'
        ),
        "vault_url": (
            "Vault's address: `https://` with a host, and no credentials, query or fragment; "
            'required when `credential_sources` has `"vault"`. Redirects are refused (a '
            "standby's 307 would carry the Vault token elsewhere): point it at the node that "
            "answers."
        ),
        "vault_mount": "Mount path of the KV version 2 secrets engine that holds the API key.",
        "vault_path": (
            "Path of the secret inside `vault_mount`; required when `credential_sources` "
            'has `"vault"`.'
        ),
        "vault_key": (
            "The key, in the secret's data, whose string value is the API key. A missing key "
            "or a value that is not a non-empty string is an error naming the secret's keys, "
            "never its values."
        ),
        "vault_auth": (
            'How the client authenticates to Vault: `"token"` (the token in '
            '`vault_token_env`, read at every fetch) or `"approle"` (a login at '
            "`auth/<vault_approle_mount>` with the values of `vault_role_id_env` and "
            "`vault_secret_id_env`; the token it gives is kept, and replaced by one new login "
            "when Vault refuses it)."
        ),
        "vault_approle_mount": (
            "Where the AppRole auth method is enabled in Vault (login at "
            '`auth/<vault_approle_mount>/login`); used when `vault_auth` is `"approle"`.'
        ),
        "vault_token_env": (
            'Name of the environment variable that holds the Vault token (`vault_auth = "token"`).'
        ),
        "vault_role_id_env": (
            "Name of the environment variable that holds the AppRole role_id "
            '(`vault_auth = "approle"`).'
        ),
        "vault_secret_id_env": (
            "Name of the environment variable that holds the AppRole secret_id "
            '(`vault_auth = "approle"`).'
        ),
        "vault_ca_bundle": (
            "PEM file of the CAs trusted for Vault's certificate; unset, requests' default "
            "bundle (certifi) is used. Independent of `ca_bundle`, `verify_tls`, `proxy_url` "
            "and `pinned_cert_sha256`, which apply to VectorVue only. The file must exist when "
            "the client is built."
        ),
        "vault_timeout_seconds": (
            "Timeout in seconds (positive) of each request to Vault, for connecting and for "
            "each read."
        ),
        # -- what the events are and who sends them ------------------------------------------
        "source_system": (
            "The `source_system` of every event the client builds from SpectraStrike output "
            "(an integration-API event given as such keeps its own) and of findings sent to "
            "the gateway: 1-64 characters of `[A-Za-z0-9._:-]`."
        ),
        "session_output_cap": (
            "How many characters of a metasploit session's output are forwarded, after "
            "credential-shaped text is masked; 0 forwards none, and no hash of the full output "
            "is ever sent. 0-4096."
        ),
        "operator_id": (
            "Telemetry gateway: the `operator_id` of events that carry none (1-128 "
            "characters). The gateway's per-minute budget, and so the pacing, is per operator. "
            "Unused by the integration API."
        ),
        "campaign_id": (
            "Telemetry gateway: the `campaign_id` of events that carry none (1-128 "
            "characters). Unused by the integration API."
        ),
        "tenant_id": (
            "Telemetry gateway: the `tenant_id` (a UUID) of events that carry none; the "
            "operator must be mapped to that tenant at the gateway. Unused by the integration "
            "API."
        ),
        "attestation_measurement_hash": (
            "Telemetry gateway: the `attributes.attestation_measurement_hash` (64 hexadecimal "
            "characters) of events that carry none; the gateway requires one on every event."
        ),
        "gateway_rate_per_minute": (
            "Telemetry gateway: requests per operator per sliding 60 s, every attempt "
            "counted (1-100000). The default, 120, is the gateway's own limit; a higher value "
            "earns 429s. A wait before an event's first attempt does not count against "
            "`deadline_seconds`; waits before its retries do."
        ),
        # -- request signing -----------------------------------------------------------------
        "signing_secret_env": (
            "Integration API: name of the environment variable that holds the HMAC secret. "
            "When set, every POST carries `X-Timestamp` and `X-Signature` (HMAC-SHA256 of "
            '`"<timestamp>." + body`, over the exact bytes sent); the secret is read at every '
            "signature. Unset: requests are not signed. Unused by the gateway."
        ),
        "service_identity": (
            "Telemetry gateway: the `X-Service-Identity` the gateway knows this producer by "
            "(1-128 characters of `[A-Za-z0-9._:-]`); required by that profile."
        ),
        "signing_key_file": (
            "Telemetry gateway: path of the Ed25519 private key (a raw 32-byte seed, its hex "
            "or base64, a PKCS#8 PEM or an OpenSSH key; unencrypted; at most 64 KiB). Exactly "
            "one of `signing_key_file` and `signing_key_env` is required by that profile. The "
            "key is read once, when the client is built: rotating it means a restart."
        ),
        "signing_key_env": (
            "Telemetry gateway: name of the environment variable that holds the Ed25519 "
            "private key as text (hex or base64 seed, PEM or OpenSSH), instead of "
            "`signing_key_file`. Read once, when the client is built."
        ),
        # -- transport -----------------------------------------------------------------------
        "http_backend": (
            'Which HTTP stack carries requests: `"urllib3"` (the default: one urllib3 '
            'pool, the fastest) or `"requests"` (the same rules over a requests Session). '
            "Both verify, pin, cap and refuse redirects identically (one contract suite)."
        ),
        "timeout_seconds": (
            "Read timeout, in seconds (positive), of each attempt, and its connect timeout "
            "when `connect_timeout_seconds` is unset; both are cut to what is left of "
            '`deadline_seconds`. The login of `auth = "login"` uses it for connect and read, '
            "not cut to the deadline."
        ),
        "connect_timeout_seconds": (
            "Connect timeout, in seconds (positive), of each attempt; unset, "
            "`timeout_seconds` is used. Cut to what is left of `deadline_seconds`."
        ),
        "deadline_seconds": (
            "The whole budget, in seconds (positive), of one send: every attempt, backoff "
            "and Retry-After wait included; a retry whose wait would reach it is not made. Also "
            "the default budget of `client.drain()`."
        ),
        "verify_tls": (
            "Verify VectorVue's certificate chain and host name. `false` turns both off "
            "(pins, when set, are still checked); it cannot be combined with `ca_bundle`, "
            "which is refused as contradictory. Has no effect on Vault."
        ),
        "ca_bundle": (
            "PEM file of the CAs trusted for VectorVue's certificate, instead of requests' "
            "default bundle (certifi). It is passed with every request, so "
            "`REQUESTS_CA_BUNDLE` and `CURL_CA_BUNDLE` cannot replace it; the file must exist "
            "when the client is built."
        ),
        "client_cert": (
            "PEM client certificate presented for mutual TLS; requires `client_key`, and is "
            "required by the telemetry gateway, whose `X-Client-Cert-Sha256` header is "
            "computed from it. The file must exist when the client is built."
        ),
        "client_key": (
            "PEM private key of `client_cert` (unencrypted: there is no passphrase "
            "setting); requires `client_cert`. The file must exist when the client is built."
        ),
        "pinned_cert_sha256": (
            "SHA-256 fingerprints (64 hex characters each, no colons, any case) of the DER of "
            "VectorVue's leaf certificate. When any is set, a server whose certificate matches "
            "none is dropped inside the TLS handshake, before a byte of the request is "
            "written; give two during a certificate rotation. Empty: no pinning. Applies to "
            "the login too, not to Vault."
        ),
        "proxy_url": (
            "An `http://` or `https://` proxy for VectorVue, without credentials, path, query "
            "or fragment (so a proxy that needs authentication cannot be used); HTTPS goes "
            "through it in a CONNECT tunnel, and pins still apply to the origin's certificate. "
            "Unset: no proxy. Cannot be combined with `proxy_from_env`."
        ),
        "proxy_from_env": (
            "Take the proxy from `HTTPS_PROXY` (or `https_proxy`) when the client is built, "
            "unless `NO_PROXY` (or `no_proxy`) covers `base_url`'s host; the URL must follow "
            "`proxy_url`'s rules. Off: the environment's proxy variables are ignored. Cannot be "
            "combined with `proxy_url`."
        ),
        "pool_size": (
            "How many connections to VectorVue are kept open for reuse (1-1000); more "
            "concurrent sends open extra connections, which are closed after use."
        ),
        "pool_max_idle_seconds": (
            "How long, in seconds (positive), a pooled connection may sit idle and still be "
            "reused; an older one is closed and a fresh one made, so that no request is "
            "written on a connection the server is closing (a lost attempt, or with "
            "`max_retries = 0` a failed send). Keep it below the server's keep-alive "
            "timeout: the default is under uvicorn's 5 s."
        ),
        "max_response_bytes": (
            "Largest response body read, in bytes (at least 1024), after any content "
            "decoding; a larger one (by its Content-Length or as it is read) is a "
            "`response_too_large` transport error, which is not retried."
        ),
        "gzip_requests": (
            "Compress request bodies of 1024 bytes or more with gzip (`Content-Encoding: "
            "gzip`) before signing, so the signature covers the compressed bytes; the "
            "idempotency key is derived from the uncompressed JSON. Off by default: turn it on "
            "only for a server known to accept gzip bodies."
        ),
        # -- delivery ------------------------------------------------------------------------
        "max_retries": (
            "Retries after the first attempt of one send (0-100), within `deadline_seconds`. "
            "Retried: 408, 425, 429, 500, 502, 503, 504 (and 409 on the gateway), connect and "
            "read timeouts and lost connections. The one new attempt after a 401 about the "
            "token is made even with 0, and counts against the retries left."
        ),
        "backoff_base_seconds": (
            "First backoff ceiling in seconds (positive, at most `backoff_max_seconds`): "
            "before retry n the client waits a uniformly random time up to "
            "`min(backoff_max_seconds, backoff_base_seconds * 2^(n-1))`, at least 1 s after a "
            "429, and exactly the server's Retry-After when it sends one."
        ),
        "backoff_max_seconds": (
            "Largest backoff ceiling in seconds (positive). A Retry-After from the server is "
            "not capped by it, only by `deadline_seconds`."
        ),
        "batch_size": (
            "Most items in one batch request (1-1000) of the integration API, and most "
            "outbox items claimed per drain round. VectorVue's default limit is 250: a larger "
            "batch than the server allows is refused whole (422 `batch_too_large`)."
        ),
        "max_batch_bytes": (
            "Largest uncompressed JSON body of one batch request, in bytes (at least 1024); "
            "batches are split to fit it, and an item that cannot fit alone is refused "
            "locally. No upper bound is enforced: above the server's own request-body limit "
            "(LocalVectorVue's is 1 MiB) a batch is refused with 413."
        ),
        # -- outbox --------------------------------------------------------------------------
        "outbox_path": (
            "The outbox's SQLite file, opened at the first `enqueue`, `drain`, `outbox` or "
            "`start_worker` call; unset: `$XDG_STATE_HOME/vectorvue-client/outbox.sqlite3`, "
            "else `~/.local/state/vectorvue-client/outbox.sqlite3`. One process owns the file "
            "(an flock on the file itself, whatever path reaches it; a file with several hard "
            "links is refused); `outbox stats` and `outbox dead` read it while a service owns "
            "it. It must be on a local filesystem."
        ),
        "outbox_synchronous": (
            '`"full"`: every outbox write is flushed to disk before it returns and survives '
            'a power loss; `"normal"`: it survives a crash of the process, but a power loss '
            "or OS crash may take the latest writes (the file stays consistent)."
        ),
        "outbox_max_attempts": (
            "Delivery attempts after which an outbox item that keeps failing transiently is "
            "dead-lettered (1-1000000); unset, it is retried for as long as it takes. Items "
            "VectorVue refuses for good are dead-lettered at once either way."
        ),
        "outbox_backoff_base_seconds": (
            "First backoff ceiling, in seconds (positive), of an outbox item after a "
            "transient failure: its next attempt is due after a random time up to "
            "`min(outbox_backoff_max_seconds, base * 2^(failures-1))`, and never before the "
            "server's Retry-After. At most `outbox_backoff_max_seconds`."
        ),
        "outbox_backoff_max_seconds": (
            "Largest outbox backoff ceiling in seconds (positive); Retry-After is not capped by it."
        ),
        "worker_interval_seconds": (
            "Longest sleep, in seconds (positive), of the `start_worker` thread between two "
            "drain rounds; it wakes sooner when an item falls due, when one is enqueued and "
            "when it is stopped."
        ),
        # -- audit ---------------------------------------------------------------------------
        "audit_file": (
            "Path of an append-only, hash-chained JSON Lines audit file (created 0600, an "
            "existing file's mode left alone), written in addition to the `vectorvue_client.audit` "
            "logger; check it with `vectorvue_client.verify_audit_chain(path)`. Any number of "
            "writers on one host (the command line beside a service) keep one chain, under an "
            "flock on the file; local filesystem only. Unset: the logger only."
        ),
        "audit_fsync": (
            '`"always"`: each audit record is flushed to disk before the operation returns; '
            '`"never"`: the OS writes it back when it chooses, so a power loss (not a process '
            "crash) may lose the latest records, undetectably."
        ),
    }
)

_SECTION_COMMENT: Final = re.compile(r"^\s+# -- (?P<title>.+?) -{3,}\s*$")
_FIELD_LINE: Final = re.compile(r"^\s+(?P<name>[a-z_][a-z0-9_]*)\s*:")


class FieldDocsError(LookupError):
    """FIELD_DOCS and VectorVueConfig disagree: a field has no description, or a
    description names a field that does not exist."""


def check_field_docs() -> None:
    """Raise FieldDocsError unless FIELD_DOCS describes exactly the fields of
    VectorVueConfig, each with a non-empty text."""
    names = [f.name for f in fields(VectorVueConfig)]
    missing = [n for n in names if not FIELD_DOCS.get(n, "").strip()]
    stale = sorted(set(FIELD_DOCS) - set(names))
    problems = []
    if missing:
        problems.append(f"no description in FIELD_DOCS for: {', '.join(missing)}")
    if stale:
        problems.append(f"FIELD_DOCS describes fields that do not exist: {', '.join(stale)}")
    if problems:
        raise FieldDocsError(
            "; ".join(problems) + " (edit src/vectorvue_client/config_docs.py, then run "
            f"{REGENERATE})"
        )


def sections() -> list[tuple[str, list[Field[Any]]]]:
    """The fields in definition order, grouped under the section comments of the class
    body (`# -- credentials ---`); fields before the first comment are FIRST_SECTION."""
    by_name = {f.name: f for f in fields(VectorVueConfig)}
    source = inspect.getsource(config_module).splitlines()
    start = next(i for i, line in enumerate(source) if line.startswith("class VectorVueConfig"))
    grouped: list[tuple[str, list[Field[Any]]]] = [(FIRST_SECTION, [])]
    for line in source[start + 1 :]:
        if line and not line[0].isspace():
            break  # the end of the class body
        comment = _SECTION_COMMENT.match(line)
        if comment:
            title = comment.group("title")
            grouped.append((title[:1].upper() + title[1:], []))
            continue
        field_line = _FIELD_LINE.match(line)
        if field_line and field_line.group("name") in by_name:
            grouped[-1][1].append(by_name[field_line.group("name")])
    found = [f.name for _, group in grouped for f in group]
    if found != list(by_name):
        raise FieldDocsError(
            "the fields found in config.py's source are not those of VectorVueConfig, in "
            f"order: found {found}, expected {list(by_name)}"
        )
    return [(title, group) for title, group in grouped if group]


def render_type(annotation: Any) -> str:
    """A field's type as Python spells it, aliases expanded (`Literal["a", "b"]`)."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        return "Literal[" + ", ".join(render_value(a) for a in args) + "]"
    if origin is types.UnionType:
        return " | ".join(render_type(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"tuple[{render_type(args[0])}, ...]"
        return "tuple[" + ", ".join(render_type(a) for a in args) + "]"
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


def render_default(field: Field[Any]) -> str:
    """The field's default in backticks, or that it is required."""
    if field.default is not MISSING:
        return f"`{render_value(field.default)}`"
    if field.default_factory is not MISSING:
        return f"`{render_value(field.default_factory())}`"
    return "none (required)"


def _environment(name: str, annotation: Any) -> str:
    variable = f"`{ENV_PREFIX}{name.upper()}`"
    text = render_type(annotation)
    if text.startswith("tuple"):
        return variable + " (comma-separated)"
    if text == "bool":
        return variable + " (1/0, true/false, yes/no, on/off)"
    return variable


_PREAMBLE: Final = f"""\
# Configuration reference

Every setting of the client is a field of `VectorVueConfig`
(src/vectorvue_client/config.py), listed here in definition order. This file is generated
from the code: do not edit it by hand. After changing a field or its description
(`FIELD_DOCS` in src/vectorvue_client/config_docs.py), regenerate it with

    {REGENERATE}

tests/unit/test_docs.py fails while this file and the code disagree.

## Where settings come from

- In code: `VectorVueConfig(base_url=..., ...)` with keyword arguments.
- `VectorVueConfig.from_env()` reads one variable per field, `{ENV_PREFIX}<FIELD>` in
  upper case (`{ENV_PREFIX}BASE_URL`, `{ENV_PREFIX}PINNED_CERT_SHA256`). Tuples are
  comma-separated (blank entries dropped); booleans accept 1/0, true/false, yes/no, on/off
  in any case; numbers are parsed, anything else is taken as written. A field whose default
  is `None` cannot be set back to `None` from the environment: leave the variable unset.
  Variables with the prefix that name no field are ignored, so a misspelt one is not
  reported (the default secret variables `{ENV_PREFIX}API_KEY` and `{ENV_PREFIX}PASSWORD`
  share the prefix and are not settings).
- `VectorVueConfig.from_toml(path)` reads a `[{TOML_TABLE}]` table (or, without one, the
  top-level keys) whose keys are the field names; TOML arrays become tuples, and a key
  that names no field is refused. TOML has no null: omit a key to keep a `None` default.
- The `vectorvue-client` command line combines them (config_sources.py). Precedence,
  highest first: flags (`--base-url`, `--profile`, `--outbox-path`, and
  `--set FIELD=VALUE` for any field; their values are read as environment values are),
  then `{ENV_PREFIX}*` variables, then the TOML file given with `--config`, then the
  default. `vectorvue-client config check` shows each setting and where it came from.
  In the library, `from_env` and `from_toml` each read their one source.

## Secrets are never values

No setting holds a secret. A setting ending in `_env` holds the NAME of an environment
variable that holds the secret (`api_key_env`, `login_password_env`, `signing_secret_env`,
`signing_key_env`, `vault_token_env`, `vault_role_id_env`, `vault_secret_id_env`); a
file setting holds a path (`api_key_file`, `signing_key_file`, `client_key`). What they
name is read when it is needed and wrapped in `Secret` at once (see docs/security.md).
`base_url`, `vault_url` and `proxy_url` may not carry `user:password@`.

## Validation

A `VectorVueConfig` is checked when it is constructed: each field against its rule, then
the rules between fields. The first failure raises `VectorVueConfigError`, whose `field`
names the setting and `rule` says what it broke (`str(error)` is `"field: rule"`); an
environment value that cannot be converted to the field's type also names the variable.
What the settings point at is checked later: files named by `ca_bundle`, `client_cert`,
`client_key`, `signing_key_file`, `vault_ca_bundle` and `audit_file` when the client is
built; `outbox_path` at first use; secrets in the environment, files and Vault when they
are first fetched (the gateway's signing key when the client is built).

Rules between fields:

- `client_cert` and `client_key` go together.
- `backoff_base_seconds` <= `backoff_max_seconds`, and `outbox_backoff_base_seconds` <=
  `outbox_backoff_max_seconds`.
- Not both `proxy_url` and `proxy_from_env`.
- `credential_sources` with `"file"` needs `api_key_file`; with `"vault"`, `vault_url` and
  `vault_path`.
- `auth = "login"` needs `login_username` and `login_tenant_id`, and the integration-api
  profile.
- `profile = "telemetry-gateway"` needs `client_cert` (so `client_key`),
  `service_identity`, and exactly one of `signing_key_file` and `signing_key_env`.
"""


def reference_markdown() -> str:
    """docs/configuration.md, rendered from VectorVueConfig and FIELD_DOCS. Raises
    FieldDocsError when a field has no description or a description names no field."""
    check_field_docs()
    hints = get_type_hints(VectorVueConfig)
    parts = [_PREAMBLE]
    for title, group in sections():
        parts.append(f"\n## {title}\n")
        for field in group:
            annotation = hints[field.name]
            facts = " · ".join(
                (
                    f"**Environment** {_environment(field.name, annotation)}",
                    f"**TOML** `{field.name}`",
                    f"**Type** `{render_type(annotation)}`",
                    f"**Default** {render_default(field)}",
                )
            )
            parts.append(f"\n### `{field.name}`\n\n{facts}\n\n{FIELD_DOCS[field.name]}\n")
    return "".join(parts)


def main() -> int:
    """Print the reference on standard output."""
    sys.stdout.write(reference_markdown())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
