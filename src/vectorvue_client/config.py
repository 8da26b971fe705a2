"""VectorVueConfig: every setting of the client, typed, frozen, validated at construction,
and the one resolver that reads them (flags > environment > TOML > default).

Each field carries its rule (msgspec Meta constraints, checked in C; a named check in
__post_init__ only where Meta cannot say it) and its description and section, from which
config_docs renders docs/configuration.md. Configuration is read here and in the container,
nowhere else. Each invalid value raises VectorVueConfigError naming the field and the rule;
diagnose() collects every broken rule instead (for `config check`).
"""

import difflib
import os
import sys
import tomllib
import types
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Final, Literal, NamedTuple, Union, get_args, get_origin
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta

from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.domain.models import HEX64_PATTERN, ID_PATTERN, NAME_LEN, UUID_PATTERN
from vectorvue_client.domain.redaction import scrub

Profile = Literal["integration-api", "telemetry-gateway"]
CredentialKind = Literal["env", "file", "vault"]
VaultAuth = Literal["token", "approle"]
Fsync = Literal["always", "never"]
AuthMode = Literal["token", "login"]
OutboxSync = Literal["full", "normal"]
OutboxBackend = Literal["sqlite", "rabbitmq"]
HttpBackend = Literal["urllib3", "requests"]
MAX_BATCH_SIZE: Final = 1000
MIB: Final = 1 << 20
PREFIX: Final = "VECTORVUE_"

# The rules Meta can say. \Z, not $: "$" also matches before a final newline.
Seconds = Annotated[float, Meta(gt=0, le=sys.float_info.max)]  # positive and finite
EnvName = Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*\Z")]
Text = Annotated[str, Meta(pattern=r"\S")]  # not empty, not only blanks
FilePath = Annotated[str, Meta(min_length=1)]  # existence is checked when the file is opened
Name = Annotated[str, Meta(min_length=NAME_LEN[0], max_length=NAME_LEN[1], pattern=ID_PATTERN)]
Party = Annotated[str, Meta(min_length=1, max_length=128)]
Identity = Annotated[str, Meta(pattern=r"^[A-Za-z0-9._:-]{1,128}\Z")]
Uuid = Annotated[str, Meta(pattern=UUID_PATTERN)]
Hex64 = Annotated[str, Meta(pattern=HEX64_PATTERN)]
Attempts = Annotated[int, Meta(ge=1, le=1_000_000)]
# A RabbitMQ queue name: at most 255 bytes; kept to plain characters so that a delay
# queue's name (the queue's, plus ".retry.<ms>ms") fits too.
QueueName = Annotated[str, Meta(pattern=r"^[A-Za-z0-9._:-]{1,200}\Z")]
SchemaVersion = Annotated[str, Meta(max_length=32, pattern=r"\S")]
CredentialSources = Annotated[tuple[CredentialKind, ...], Meta(min_length=1)]  # distinct: below


def _section(title: str) -> Callable[[str], Meta]:
    """Meta for the fields of one section of the reference: a description (its blanks and
    line breaks folded to single spaces) and the section's title."""
    return lambda text: Meta(description=" ".join(text.split()), extra={"section": title})


ENDPOINT = _section("Endpoint and profile")
CREDENTIALS = _section("Credentials")
EVENTS = _section("What the events are and who sends them")
SIGNING = _section("Request signing")
TRANSPORT = _section("Transport")
DELIVERY = _section("Delivery")
OUTBOX = _section("Outbox")
AUDIT = _section("Audit")
BRIDGE = _section("RabbitMQ bridge")
COGNITIVE = _section("Cognitive loop")


class VectorVueConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Settings of one VectorVue client; construct with keywords, or resolve() them.

    `timeout_seconds` bounds each socket read of one attempt (`connect_timeout_seconds`,
    when set, the connect); `deadline_seconds` is the whole budget of one send, retries and
    their waits included.
    """

    # One declaration per setting, its description beside it: formatted by hand, since the
    # formatter would split every field over four more lines.
    # fmt: off

    base_url: Annotated[str, ENDPOINT("""VectorVue's base URL: `https://` with a host, and no
        `user:password@`, query string or fragment (plain HTTP is refused). Request paths such as
        `/api/v1/integrations/spectrastrike/events` are appended to it, so a path prefix is kept;
        the login of `auth = "login"` goes to the same place.""")]
    profile: Annotated[Profile, ENDPOINT("""Which ingest contract to speak: `"integration-api"`
        (bearer token, events and findings, batches, Idempotency-Key, optional HMAC signing) or
        `"telemetry-gateway"` (one Ed25519-signed event per request over mutual TLS, no bearer
        token, paced per operator). The gateway requires `client_cert`, `client_key`,
        `service_identity` and exactly one of `signing_key_file` or
        `signing_key_env`.""")] = "integration-api"

    auth: Annotated[AuthMode, CREDENTIALS("""How the integration API's bearer token is obtained:
        `"token"` sends the API key found through `credential_sources`; `"login"` logs in at `POST
        /api/v1/client/auth/login` with `login_username`, the password named by
        `login_password_env` and `login_tenant_id`, and sends the JWT it gets (a new login 60 s
        before the token's `exp`, and once after a 401 about the token). `"login"` exists on the
        integration-api profile only; with it the API-key settings (`credential_sources`,
        `api_key_*`, `credential_ttl_seconds`) are not used.""")] = "token"
    login_username: Annotated[Text | None, CREDENTIALS("""The username of the login; required
        (non-empty) when `auth` is `"login"`, unused otherwise.""")] = None
    login_password_env: Annotated[EnvName, CREDENTIALS("""Name of the environment variable that
        holds the login password (`auth = "login"`). It is read at every login, so a rotated
        password is used at the next one; the password itself is never
        a setting.""")] = "VECTORVUE_PASSWORD"  # noqa: S105 - a name
    login_tenant_id: Annotated[Uuid | None, CREDENTIALS("""The tenant UUID (36 characters, hex and
        dashes) sent in the login body; required when `auth` is `"login"`, unused
        otherwise.""")] = None
    api_key_env: Annotated[EnvName, CREDENTIALS("""Name of the environment variable that holds the
        integration API's key, for the `"env"` credential source. It is read at each fetch (then
        cached for `credential_ttl_seconds`). The telemetry gateway sends no bearer token and does
        not use it.""")] = "VECTORVUE_API_KEY"
    credential_sources: Annotated[CredentialSources, CREDENTIALS("""Where the API key is looked up,
        in order of preference: a non-empty tuple of distinct `"env"` (`api_key_env`), `"file"`
        (`api_key_file`) and `"vault"` (the `vault_*` settings). At each fetch the first source
        that has the key wins; when none has it, the error gives every source's reason. `"file"`
        requires `api_key_file`; `"vault"` requires `vault_url`, `vault_path` and the `vault` extra
        (hvac).""")] = ("env",)
    api_key_file: Annotated[FilePath | None, CREDENTIALS("""Path of a file that holds the API key
        (a mounted Kubernetes or Docker secret), for the `"file"` source. It is read at each fetch:
        one trailing newline is stripped, at most 64 KiB is accepted, symlinks are followed. A file
        that group or others may read or write is still used, with one warning on the
        `vectorvue_client.credentials` logger.""")] = None
    credential_ttl_seconds: Annotated[Seconds, CREDENTIALS("""Seconds (positive) an API key fetched
        from `credential_sources` is kept in memory before it is fetched again; a 401 about the
        credential drops it at once. When a refresh fails the error is raised: a key is never used
        past its TTL. Not used with `auth = "login"` (the JWT's `exp` decides).""")] = 300.0
    vault_url: Annotated[str | None, CREDENTIALS("""Vault's address: `https://` with a host, and no
        credentials, query or fragment; required when `credential_sources` has `"vault"`. Redirects
        are refused (a standby's 307 would carry the Vault token elsewhere): point it at the node
        that answers.""")] = None
    vault_mount: Annotated[Text, CREDENTIALS("""Mount path of the KV version 2 secrets engine that
        holds the API key.""")] = "secret"
    vault_path: Annotated[Text | None, CREDENTIALS("""Path of the secret inside `vault_mount`;
        required when `credential_sources` has `"vault"`.""")] = None
    vault_key: Annotated[Text, CREDENTIALS("""The key, in the secret's data, whose string value is
        the API key. A missing key or a value that is not a non-empty string is an error naming the
        secret's keys, never its values.""")] = "api_key"
    vault_auth: Annotated[VaultAuth, CREDENTIALS("""How the client authenticates to Vault:
        `"token"` (the token in `vault_token_env`, read at every fetch) or `"approle"` (a login at
        `auth/<vault_approle_mount>` with the values of `vault_role_id_env` and
        `vault_secret_id_env`; the token it gives is kept, and replaced by one new login when Vault
        refuses it).""")] = "token"
    vault_approle_mount: Annotated[Text, CREDENTIALS("""Where the AppRole auth method is enabled in
        Vault (login at `auth/<vault_approle_mount>/login`); used when
        `vault_auth` is `"approle"`.""")] = "approle"
    vault_token_env: Annotated[EnvName, CREDENTIALS("""Name of the environment variable that holds
        the Vault token (`vault_auth = "token"`).""")] = "VAULT_TOKEN"  # noqa: S105 - a name
    vault_role_id_env: Annotated[EnvName, CREDENTIALS("""Name of the environment variable that
        holds the AppRole role_id (`vault_auth = "approle"`).""")] = "VAULT_ROLE_ID"
    vault_secret_id_env: Annotated[EnvName, CREDENTIALS("""Name of the environment variable that
        holds the AppRole secret_id (`vault_auth = "approle"`).""")] = "VAULT_SECRET_ID"  # noqa: S105 - a name
    vault_ca_bundle: Annotated[FilePath | None, CREDENTIALS("""PEM file of the CAs trusted for
        Vault's certificate; unset, requests' default bundle (certifi) is used. Independent of
        `ca_bundle`, `verify_tls`, `proxy_url` and `pinned_cert_sha256`, which apply to VectorVue
        only. The file must exist when the client is built.""")] = None
    vault_timeout_seconds: Annotated[Seconds, CREDENTIALS("""Timeout in seconds (positive) of each
        request to Vault, for connecting and for each read.""")] = 5.0

    source_system: Annotated[Name, EVENTS("""The `source_system` of every event the client builds
        from SpectraStrike output (an integration-API event given as such keeps its own) and of
        findings sent to the gateway: 1-64 characters of `[A-Za-z0-9._:-]`.""")] = "spectrastrike"
    session_output_cap: Annotated[int, Meta(ge=0, le=4096), EVENTS("""How many
        characters of a metasploit session's output are forwarded, after credential-shaped text is
        masked; 0 forwards none, and no hash of the full output is ever sent. 0-4096.""")] = 512
    operator_id: Annotated[Party | None, EVENTS("""Telemetry gateway: the `operator_id` of events
        that carry none (1-128 characters). The gateway's per-minute budget, and so the pacing, is
        per operator. Unused by the integration API.""")] = None
    campaign_id: Annotated[Party | None, EVENTS("""Telemetry gateway: the `campaign_id` of events
        that carry none (1-128 characters). Unused by the integration API.""")] = None
    tenant_id: Annotated[Uuid | None, EVENTS("""Telemetry gateway: the `tenant_id` (a UUID) of
        events that carry none; the operator must be mapped to that tenant at the gateway. Unused
        by the integration API.""")] = None
    attestation_measurement_hash: Annotated[Hex64 | None, EVENTS("""Telemetry gateway: the
        `attributes.attestation_measurement_hash` (64 hexadecimal characters) of events that carry
        none; the gateway requires one on every event.""")] = None
    gateway_rate_per_minute: Annotated[int, Meta(ge=1, le=100_000), EVENTS("""Telemetry
        gateway: requests per operator per sliding 60 s, every attempt counted (1-100000). The
        default, 120, is the gateway's own limit; a higher value earns 429s. A wait before an
        event's first attempt does not count against `deadline_seconds`; waits before its retries
        do.""")] = 120
    gateway_schema_version: Annotated[SchemaVersion, EVENTS("""Telemetry gateway: the
        `attributes.schema_version` of every event sent, which must be in the gateway's allowed
        list (its default allows only "1.0"); non-empty after trimming, at most 32 characters. A
        version starting with `2.` also needs an `attributes.contract_v2` object on each event,
        or the gateway answers 422.""")] = "1.0"

    signing_secret_env: Annotated[EnvName | None, SIGNING("""Integration API: name of the
        environment variable that holds the HMAC secret. When set, every POST carries `X-Timestamp`
        and `X-Signature` (HMAC-SHA256 of `"<timestamp>." + body`, over the exact bytes sent); the
        secret is read at every signature. Unset: requests are not signed. Unused by
        the gateway.""")] = None
    service_identity: Annotated[Identity | None, SIGNING("""Telemetry gateway: the
        `X-Service-Identity` the gateway knows this producer by (1-128 characters of
        `[A-Za-z0-9._:-]`); required by that profile.""")] = None
    signing_key_file: Annotated[FilePath | None, SIGNING("""Telemetry gateway: path of the Ed25519
        private key (a raw 32-byte seed, its hex or base64, a PKCS#8 PEM or an OpenSSH key;
        unencrypted; at most 64 KiB). Exactly one of `signing_key_file` and `signing_key_env` is
        required by that profile. The key is read once, when the client is built: rotating it means
        a restart.""")] = None
    signing_key_env: Annotated[EnvName | None, SIGNING("""Telemetry gateway: name of the
        environment variable that holds the Ed25519 private key as text (hex or base64 seed, PEM or
        OpenSSH), instead of `signing_key_file`. Read once, when the client is built.""")] = None

    http_backend: Annotated[HttpBackend, TRANSPORT("""Which HTTP stack carries requests:
        `"urllib3"` (the default: one urllib3 pool, the fastest) or `"requests"` (the same rules
        over a requests Session). Both verify, pin, cap and refuse redirects identically (one
        contract suite).""")] = "urllib3"
    timeout_seconds: Annotated[Seconds, TRANSPORT("""Read timeout, in seconds (positive), of each
        attempt, and its connect timeout when `connect_timeout_seconds` is unset; both are cut to
        what is left of `deadline_seconds`. The login of `auth = "login"` uses it for connect and
        read, not cut to the deadline.""")] = 10.0
    connect_timeout_seconds: Annotated[Seconds | None, TRANSPORT("""Connect timeout, in seconds
        (positive), of each attempt; unset, `timeout_seconds` is used. Cut to what is left of
        `deadline_seconds`.""")] = None
    deadline_seconds: Annotated[Seconds, TRANSPORT("""The whole budget, in seconds (positive), of
        one send: every attempt, backoff and Retry-After wait included; a retry whose wait would
        reach it is not made. Also the default budget of `client.drain()`.""")] = 60.0
    verify_tls: Annotated[bool, TRANSPORT("""Verify VectorVue's certificate chain and host name.
        `false` turns both off (pins, when set, are still checked); it cannot be combined with
        `ca_bundle`, which is refused as contradictory. Has no effect on Vault.""")] = True
    ca_bundle: Annotated[FilePath | None, TRANSPORT("""PEM file of the CAs trusted for VectorVue's
        certificate, instead of requests' default bundle (certifi). It is passed with every
        request, so `REQUESTS_CA_BUNDLE` and `CURL_CA_BUNDLE` cannot replace it; the file must
        exist when the client is built.""")] = None
    client_cert: Annotated[FilePath | None, TRANSPORT("""PEM client certificate presented for
        mutual TLS; requires `client_key`, and is required by the telemetry gateway, whose
        `X-Client-Cert-Sha256` header is computed from it. The file must exist when the client is
        built.""")] = None
    client_key: Annotated[FilePath | None, TRANSPORT("""PEM private key of `client_cert`
        (unencrypted: there is no passphrase setting); requires `client_cert`. The file must exist
        when the client is built.""")] = None
    pinned_cert_sha256: Annotated[tuple[Hex64, ...], TRANSPORT("""SHA-256 fingerprints (64 hex
        characters each, no colons, any case) of the DER of VectorVue's leaf certificate. When any
        is set, a server whose certificate matches none is dropped inside the TLS handshake, before
        a byte of the request is written; give two during a certificate rotation. Empty: no
        pinning. Applies to the login too, not to Vault.""")] = ()
    proxy_url: Annotated[str | None, TRANSPORT("""An `http://` or `https://` proxy for VectorVue,
        without credentials, path, query or fragment (so a proxy that needs authentication cannot
        be used); HTTPS goes through it in a CONNECT tunnel, and pins still apply to the origin's
        certificate. Unset: no proxy. Cannot be combined with `proxy_from_env`.""")] = None
    proxy_from_env: Annotated[bool, TRANSPORT("""Take the proxy from `HTTPS_PROXY` (or
        `https_proxy`) when the client is built, unless `NO_PROXY` (or `no_proxy`) covers
        `base_url`'s host; the URL must follow `proxy_url`'s rules. Off: the environment's proxy
        variables are ignored. Cannot be combined with `proxy_url`.""")] = False
    pool_size: Annotated[int, Meta(ge=1, le=1000), TRANSPORT("""How many connections to
        VectorVue are kept open for reuse (1-1000); more concurrent sends open extra connections,
        which are closed after use.""")] = 10
    pool_max_idle_seconds: Annotated[Seconds, TRANSPORT("""How long, in seconds (positive), a
        pooled connection may sit idle and still be reused; an older one is closed and a fresh one
        made, so that no request is written on a connection the server is closing (a lost attempt,
        or with `max_retries = 0` a failed send). Keep it below the server's keep-alive timeout:
        the default is under uvicorn's 5 s.""")] = 4.0
    max_response_bytes: Annotated[int, Meta(ge=1024), TRANSPORT("""Largest response body
        read, in bytes (at least 1024), after any content decoding; a larger one (by its
        Content-Length or as it is read) is a `response_too_large` transport error, which is not
        retried.""")] = MIB

    max_retries: Annotated[int, Meta(ge=0, le=100), DELIVERY("""Retries after the first
        attempt of one send (0-100), within `deadline_seconds`. Retried: 408, 425, 429, 500, 502,
        503, 504 (and 409 on the gateway), connect and read timeouts and lost connections. The one
        new attempt after a 401 about the token is made even with 0, and counts against the retries
        left.""")] = 3
    backoff_base_seconds: Annotated[Seconds, DELIVERY("""First backoff ceiling in seconds
        (positive, at most `backoff_max_seconds`): before retry n the client waits a uniformly
        random time up to `min(backoff_max_seconds, backoff_base_seconds * 2^(n-1))`, at least 1 s
        after a 429, and exactly the server's Retry-After when it sends one.""")] = 0.5
    backoff_max_seconds: Annotated[Seconds, DELIVERY("""Largest backoff ceiling in seconds
        (positive). A Retry-After from the server is not capped by it, only by
        `deadline_seconds`.""")] = 30.0
    batch_size: Annotated[int, Meta(ge=1, le=MAX_BATCH_SIZE), DELIVERY("""Most items in
        one batch request (1-1000) of the integration API, and most outbox items claimed per drain
        round. VectorVue's default limit is 250: a larger batch than the server allows is refused
        whole (422 `batch_too_large`).""")] = 250
    max_batch_bytes: Annotated[int, Meta(ge=1024, le=MIB), DELIVERY("""Largest JSON body of
        one batch request, in bytes (1024 to 1,048,576); batches are split to fit it, and an item
        that cannot fit alone is refused locally. At most 1 MiB: VectorVue's nginx answers a
        larger body with 413, after it was sent.""")] = MIB

    # Signed answers (ADR 0034): the integration API's HMAC-signed envelopes.
    compliance_key_env: Annotated[EnvName | None, _section("Signed answers")("""Integration API:
        name of the environment variable that holds VectorVue's compliance signing key (its
        `VV_COMPLIANCE_SIGNING_KEY`). When set, the signature of every answer VectorVue signs (the
        202 of events, findings and their batches, the 200 of the ingest status) is checked, and
        `ResponseEnvelope.signature_status` says `"verified"`, `"unsigned"` or `"invalid"`; unset,
        it says `"not_checked"`. The key is symmetric: whoever holds it can also forge answers, so
        give it only to a client that must check them. Read at every check; the key itself is
        never a setting. Unused by the gateway.""")] = None
    compliance_signatures: Annotated[Literal["report", "enforce"], _section("Signed answers")(
        """What an answer that does not verify does: `"report"` (the default) sets
        `signature_status` and notes it in the audit record, and the call returns as usual;
        `"enforce"` raises `VectorVueSignatureError` naming the failed check, for an invalid or
        missing signature alike (VectorVue has still stored what it accepted; an outbox item is
        then resent under the same key, and dead-lettered after `outbox_max_attempts`). Requires
        `compliance_key_env`.""")] = "report"

    outbox_backend: Annotated[OutboxBackend, OUTBOX("""Where the outbox keeps items: `"sqlite"`, a
        file on this host (`outbox_path`); `"rabbitmq"`, the queue `outbox_queue` on the broker at
        `broker_url_env` (with its TLS settings), which any number of processes on any number of
        hosts enqueue to and drain from. Needs the `fleet` extra.""")] = "sqlite"
    outbox_queue: Annotated[QueueName, OUTBOX("""With `outbox_backend = "rabbitmq"`: the outbox's
        queue, declared durable (classic) where missing, with its dead letters in
        `<outbox_queue>.dlq` and waiting retries in `<outbox_queue>.retry.<ms>ms` (24 delay queues,
        0.1 s to 9.7 days). Not SpectraStrike's queue: it holds normalized items, not
        envelopes.""")] = "vectorvue.outbox"
    outbox_path: Annotated[FilePath | None, OUTBOX("""The outbox's SQLite file, opened at the first
        `enqueue`, `drain`, `outbox` or `start_worker` call; unset:
        `$XDG_STATE_HOME/vectorvue-client/outbox.sqlite3`, else
        `~/.local/state/vectorvue-client/outbox.sqlite3`. One process owns the file (an flock on
        the file itself, whatever path reaches it; a file with several hard links is refused);
        `outbox stats` and `outbox dead` read it while a service owns it. It must be on a local
        filesystem.""")] = None
    outbox_synchronous: Annotated[OutboxSync, OUTBOX("""`"full"`: every outbox write is flushed to
        disk before it returns and survives a power loss; `"normal"`: it survives a crash of the
        process, but a power loss or OS crash may take the latest writes (the file stays
        consistent).""")] = "full"
    outbox_max_attempts: Annotated[Attempts | None, OUTBOX("""Delivery attempts after which an
        outbox item that keeps failing transiently is dead-lettered (1-1000000); unset, it is
        retried for as long as it takes. Items VectorVue refuses for good are dead-lettered at
        once either way.""")] = None
    outbox_backoff_base_seconds: Annotated[Seconds, OUTBOX("""First backoff ceiling, in seconds
        (positive), of an outbox item after a transient failure: its next attempt is due after a
        random time up to `min(outbox_backoff_max_seconds, base * 2^(failures-1))`, and never
        before the server's Retry-After. At most `outbox_backoff_max_seconds`.""")] = 1.0
    outbox_backoff_max_seconds: Annotated[Seconds, OUTBOX("""Largest outbox backoff ceiling in
        seconds (positive); Retry-After is not capped by it.""")] = 300.0
    worker_interval_seconds: Annotated[Seconds, OUTBOX("""Longest sleep, in seconds (positive), of
        the `start_worker` thread between two drain rounds; it wakes sooner when an item falls due,
        when one is enqueued and when it is stopped.""")] = 1.0

    audit_file: Annotated[FilePath | None, AUDIT("""Path of an append-only, hash-chained JSON Lines
        audit file (created 0600, an existing file's mode left alone), written in addition to the
        `vectorvue_client.audit` logger; check it with `vectorvue_client.verify_audit_chain(path)`.
        Any number of writers on one host (the command line beside a service) keep one chain, under
        an flock on the file; local filesystem only. Unset: the logger only.""")] = None
    audit_fsync: Annotated[Fsync, AUDIT("""`"always"`: each audit record is flushed to disk before
        the operation returns; `"never"`: the OS writes it back when it chooses, so a power loss
        (not a process crash) may lose the latest records, undetectably.""")] = "always"

    feedback_keyring_file: Annotated[FilePath | None, COGNITIVE("""Telemetry gateway: path of
        the JSON file of the keys the gateway signs feedback answers with, an object kid -> key,
        each key the base64 of the raw 32-byte Ed25519 public key or the path of a PEM public key
        (relative to the file's directory), e.g. `{"2026-11": "feedback-2026-11.pub.pem"}`. Read
        once per client, at the first `query_feedback`, which requires it. An answer whose kid is
        not here is refused (keys are never fetched); keep the old kid during a
        rotation.""")] = None
    feedback_freshness_seconds: Annotated[Seconds, COGNITIVE("""Telemetry gateway: how far
        (seconds, positive) a feedback answer's `signed_at` may be from this host's clock, either
        way; an answer's nonce is remembered that long, so a replay within it is
        refused.""")] = 300.0
    feedback_nonce_file: Annotated[FilePath | None, COGNITIVE("""Telemetry gateway: path of a
        small SQLite file (created if missing) that remembers the nonces of accepted feedback
        answers, so that a replay is refused across restarts too, and by every process on the
        host that shares the file. Unset: in memory, for this client only.""")] = None

    broker_url_env: Annotated[EnvName, BRIDGE("""Name of the environment variable that holds the
        AMQP URL of the RabbitMQ broker `vectorvue-client bridge` consumes from
        (`amqp://user:password@host:5672/%2F`, or `amqps://` with TLS). The URL holds a password:
        it is read from the environment only, never a setting, and never
        written out.""")] = "VECTORVUE_BROKER_URL"
    broker_queue: Annotated[QueueName, BRIDGE("""The queue the bridge consumes: SpectraStrike's
        `telemetry.events`. It must exist (the bridge only checks it, never redeclares it)
        unless `bridge --declare` creates it.""")] = "telemetry.events"
    broker_dead_letter_queue: Annotated[QueueName, BRIDGE("""Where refused, unreadable and
        given-up messages go, with the reason in their `x-vv-*` headers; declared durable
        without arguments, as SpectraStrike declares it.""")] = "telemetry.events.dlq"
    bridge_prefetch: Annotated[Attempts | None, BRIDGE("""Most unacknowledged messages the broker
        hands one bridge (1-1000000); unset, `batch_size`, so that a bridge holds one batch and
        the other bridges on the queue get the rest.""")] = None
    bridge_linger_seconds: Annotated[Seconds, BRIDGE("""Longest wait, in seconds (positive), for
        more messages once the first of a batch arrived: a batch goes out when it holds
        `batch_size` items or when this has passed.""")] = 0.2
    bridge_max_attempts: Annotated[Attempts, BRIDGE("""Deliveries (1-1000000) after which a message
        that keeps failing transiently (5xx, 429, timeouts, VectorVue unreachable) goes to the
        dead letters with its history.""")] = 20
    bridge_backoff_base_seconds: Annotated[Seconds, BRIDGE("""Delay, in seconds (positive), of a
        message after its first transient failure: after `n` failures it waits
        `min(bridge_backoff_max_seconds, base * 2^(n-1))` in a delay queue named by that delay
        (`<broker_queue>.retry.<ms>ms`). Also the first wait before reconnecting to a broker that
        went away.""")] = 1.0
    bridge_backoff_max_seconds: Annotated[Seconds, BRIDGE("""Longest delay, in seconds (positive),
        of a message between two attempts, and longest wait between two reconnections.""")] = 300.0
    broker_ca_bundle: Annotated[FilePath | None, BRIDGE("""PEM file of the CAs trusted for the
        broker's certificate, instead of the system's. An `amqps://` URL is always verified, chain
        and host name (no setting turns that off); with an `amqp://` URL this setting is refused,
        since it would not be used. The file must exist when the bridge is built.""")] = None
    broker_client_cert: Annotated[FilePath | None, BRIDGE("""PEM client certificate (with its
        chain) presented to a broker that requires mutual TLS, as SpectraStrike's does on port
        5671; requires `broker_client_key` and an `amqps://` URL. The file must exist when the
        bridge is built.""")] = None
    broker_client_key: Annotated[FilePath | None, BRIDGE("""PEM private key of
        `broker_client_cert` (unencrypted: there is no passphrase setting); requires
        `broker_client_cert`. The file must exist when the bridge is built.""")] = None
    # fmt: on

    def __post_init__(self) -> None:
        try:
            # Every field's Meta rules, in C and in field order (the first failure wins), on
            # a copy without this __post_init__; the converted values (lists made tuples) stay.
            checked = msgspec.convert(msgspec.structs.asdict(self), _FIELDS)
        except msgspec.ValidationError as exc:
            raise _config_error(str(exc)) from None
        for name in _NAMES:
            msgspec.structs.force_setattr(self, name, getattr(checked, name))
        # Pins lower-cased once, so comparisons elsewhere are plain string equality.
        pins = tuple(pin.lower() for pin in self.pinned_cert_sha256)
        msgspec.structs.force_setattr(self, "pinned_cert_sha256", pins)
        for name, schemes, path_allowed in _URLS:
            _check_url(name, getattr(self, name), schemes, path_allowed=path_allowed)
        if broken := next(_between(msgspec.structs.asdict(self)), None):
            raise VectorVueConfigError(*broken)

    @classmethod
    def from_env(
        cls, prefix: str = PREFIX, environ: Mapping[str, str] | None = None
    ) -> "VectorVueConfig":
        """Settings from `<prefix><FIELD>` variables (e.g. VECTORVUE_BASE_URL) alone."""
        return resolve(environ=environ, prefix=prefix).config

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> "VectorVueConfig":
        """Settings from a TOML file alone: its [vectorvue] table, or its top-level keys."""
        return resolve(toml_path=path, environ={}).config


_FIELDS: Final = msgspec.defstruct(
    "_Fields", [(f.name, f.type) for f in msgspec.structs.fields(VectorVueConfig)]
)
_NAMES: Final = VectorVueConfig.__struct_fields__
# One field each, so that diagnose() checks each field's Meta rules on its own.
_ONE: Final = {
    f.name: msgspec.defstruct(f"_{f.name}", [(f.name, f.type)])
    for f in msgspec.structs.fields(VectorVueConfig)
}
_DEFAULTS: Final = {
    f.name: f.default
    for f in msgspec.structs.fields(VectorVueConfig)
    if f.default is not msgspec.NODEFAULT
}
# The URL settings: their schemes, and whether a path is allowed.
_URLS: Final = (
    ("base_url", ("https",), True),
    ("vault_url", ("https",), True),
    ("proxy_url", ("http", "https"), False),
)
_AT: Final = " - at `$"


def _config_error(message: str) -> VectorVueConfigError:
    """msgspec's "Expected `int` >= 1 - at `$.batch_size`" as field and rule."""
    rule, _, path = message.partition(_AT)
    field = path.rstrip("`").lstrip(".")
    rule = rule.replace(f"`float` <= {sys.float_info.max!r}", "a finite `float`")
    if rule.startswith("Invalid enum value"):
        options = _literal(
            msgspec.structs.fields(VectorVueConfig)[_NAMES.index(field.split("[")[0])].type
        )
        rule += f" (must be one of {', '.join(options)})"
    return VectorVueConfigError(field, scrub(rule))


def _literal(annotation: Any) -> tuple[str, ...]:
    """The options of the Literal inside a field's type."""
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    return next((o for a in get_args(annotation) if (o := _literal(a))), ())


def _check_url(
    name: str, value: str | None, schemes: tuple[str, ...], *, path_allowed: bool = True
) -> None:
    """A URL with one of `schemes`, a host, and no userinfo, query or fragment: what Meta
    cannot say. The URL is quoted only scrubbed, since it may carry a password."""
    if value is not None and (rule := next(_url_problems(value, schemes, path_allowed), None)):
        raise VectorVueConfigError(name, rule)


def _url_problems(value: str, schemes: tuple[str, ...], path_allowed: bool) -> Iterator[str]:
    if not value:
        yield "must be a non-empty string"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        yield f"{scrub(value)!r} is not a valid URL"
        return
    if parts.scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        refused = ": plain HTTP is refused" if schemes == ("https",) else ""
        yield f"must use {wanted} (got {parts.scheme or 'no'} scheme){refused}"
    if not parts.hostname:
        yield f"{scrub(value)!r} has no host"
    if parts.username is not None or parts.password is not None:
        yield "must not carry credentials (user:password@): they would leak into logs"
    if parts.query or parts.fragment:
        yield "must not have a query string or fragment"
    if not path_allowed and parts.path not in ("", "/"):
        yield "must not have a path"


def _between(c: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """The rules between fields, in the order they are checked: (field, rule) of each broken.
    `c` maps every field to its value (a VectorVueConfig's, or diagnose()'s)."""
    if c["client_key"] is not None and c["client_cert"] is None:
        yield "client_key", "is set without client_cert"
    if c["client_cert"] is not None and c["client_key"] is None:
        yield "client_cert", "needs client_key: a client certificate without its key is useless"
    if c["broker_client_key"] is not None and c["broker_client_cert"] is None:
        yield "broker_client_key", "is set without broker_client_cert"
    if c["broker_client_cert"] is not None and c["broker_client_key"] is None:
        yield "broker_client_cert", "needs broker_client_key: a certificate without its key"
    if c["backoff_base_seconds"] > c["backoff_max_seconds"]:
        yield "backoff_base_seconds", "must not exceed backoff_max_seconds"
    if c["outbox_backoff_base_seconds"] > c["outbox_backoff_max_seconds"]:
        yield "outbox_backoff_base_seconds", "must not exceed outbox_backoff_max_seconds"
    if c["bridge_backoff_base_seconds"] > c["bridge_backoff_max_seconds"]:
        yield "bridge_backoff_base_seconds", "must not exceed bridge_backoff_max_seconds"
    if c["broker_queue"] == c["broker_dead_letter_queue"]:
        yield "broker_dead_letter_queue", "must differ from broker_queue"
    if c["outbox_queue"] in (c["broker_queue"], c["broker_dead_letter_queue"]):
        yield "outbox_queue", "must differ from broker_queue and broker_dead_letter_queue"
    if c["outbox_backend"] == "rabbitmq" and c["outbox_path"] is not None:
        yield "outbox_path", "is set but outbox_backend is rabbitmq, which keeps no file"
    if c["ca_bundle"] is not None and not c["verify_tls"]:
        yield "verify_tls", "is false while ca_bundle is set: verify against it, or not at all"
    if c["proxy_url"] is not None and c["proxy_from_env"]:
        yield "proxy_url", "set either proxy_url or proxy_from_env, not both"
    if c["compliance_signatures"] == "enforce" and c["compliance_key_env"] is None:
        yield "compliance_signatures", "is enforce without compliance_key_env to check with"
    if len(set(c["credential_sources"])) != len(c["credential_sources"]):
        yield "credential_sources", "names a source twice"
    if "file" in c["credential_sources"] and c["api_key_file"] is None:
        yield "api_key_file", "is required when credential_sources has file"
    for name in ("vault_url", "vault_path"):
        if "vault" in c["credential_sources"] and c[name] is None:
            yield name, "is required when credential_sources has vault"
    for name in ("login_username", "login_tenant_id"):
        if c["auth"] == "login" and c[name] is None:
            yield name, "is required when auth is login"
    if c["auth"] == "login" and c["profile"] != "integration-api":
        yield "auth", "login exists on the integration API only"
    if c["profile"] == "telemetry-gateway":
        if c["client_cert"] is None:
            yield "client_cert", "is required by the telemetry gateway (mutual TLS)"
        if c["service_identity"] is None:
            yield "service_identity", "is required by the telemetry gateway (X-Service-Identity)"
        if (c["signing_key_file"] is None) == (c["signing_key_env"] is None):
            yield "signing_key_file", "the gateway needs exactly one of it or signing_key_env"


# -- the resolver ---------------------------------------------------------------------------
class Resolved(NamedTuple):
    """A validated configuration and, per field, where its value came from: "default",
    "toml:<path>", "env:<VARIABLE>" or "flag"."""

    config: VectorVueConfig
    sources: Mapping[str, str]


class Diagnosis(NamedTuple):
    """What the layers resolve to, with every rule they break rather than the first:
    `values` holds each field's valid value (the default when not given; a field whose
    given value is invalid, or a base_url not given, is absent), `sources` where each
    field's value (and each unknown name) came from, and `problems` every broken rule by
    the setting's name, or by the unknown name as given, in the order resolve() checks."""

    values: Mapping[str, Any]
    sources: Mapping[str, str]
    problems: Mapping[str, VectorVueConfigError]

    def error(self) -> VectorVueConfigError | None:
        """The first problem, naming where the bad value came from; None when there is none."""
        if not self.problems:
            return None
        name, problem = next(iter(self.problems.items()))
        # An unknown name's rule says where it is already; a default broke no rule of its own.
        source = self.sources[name] if name in _NAMES else "default"
        if source == "default":
            return problem
        return VectorVueConfigError(problem.field, f"{problem.rule} (from {source})")


def resolve(
    *,
    toml_path: str | os.PathLike[str] | None = None,
    flags: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    prefix: str = PREFIX,
) -> Resolved:
    """Every field from its highest layer: flags, then `<prefix>*` variables, then the TOML
    file, then the default. Flag and environment values are text, converted to the field's
    type; an error names the field, the rule, and where the bad value came from."""
    found = diagnose(toml_path=toml_path, flags=flags, environ=environ, prefix=prefix)
    if (error := found.error()) is not None:
        raise error
    return Resolved(VectorVueConfig(**found.values), found.sources)


def diagnose(
    *,
    toml_path: str | os.PathLike[str] | None = None,
    flags: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    prefix: str = PREFIX,
) -> Diagnosis:
    """resolve()'s reading of the layers, collecting every broken rule instead of raising
    the first (`config check` shows them all). A field takes the value, or the problem, of
    its highest layer: a valid flag replaces an invalid variable."""
    env = os.environ if environ is None else environ
    given: dict[str, Any] = {}
    sources = dict.fromkeys(_NAMES, "default")
    problems: dict[str, VectorVueConfigError] = {}

    def take(name: str, source: str, read: Callable[[], object]) -> None:
        sources[name] = source
        given.pop(name, None)
        problems.pop(name, None)
        try:
            given[name] = read()
        except VectorVueConfigError as exc:
            problems[name] = exc

    def unknown(name: str, source: str, rule: str) -> None:
        sources[name] = source
        problems[name] = VectorVueConfigError(name, rule)

    if toml_path is not None:
        source = f"toml:{toml_path}"
        try:
            table = read_toml_table(toml_path)
        except VectorVueConfigError as exc:
            table = {}
            sources[exc.field], problems[exc.field] = source, exc
        for name, value in table.items():
            if rule := _unknown(name, f" in {toml_path}"):
                unknown(name, source, rule)
            else:
                sources[name], given[name] = source, value  # the first layer
    for name in _NAMES:
        if (key := prefix + name.upper()) in env:
            take(name, f"env:{key}", partial(_from_text, name, env[key]))
    for key, rule in _unknown_variables(env, prefix, given):
        unknown(key, f"env:{key}", rule)
    for name, text in (flags or {}).items():
        if rule := _unknown(name, " (`vectorvue-client config check` lists every setting)"):
            unknown(name, "flag", rule)
        else:
            take(name, "flag", partial(_from_text, name, text))
    if "base_url" not in given and "base_url" not in problems:
        problems["base_url"] = VectorVueConfigError(
            "base_url", f"is required (--base-url, {prefix}BASE_URL, or base_url in --config)"
        )
    # Each given value against its own rules (Meta, then the URL rules); an invalid value
    # leaves the field, so the rules between fields see its default.
    for name in [n for n in _NAMES if n in given]:  # in field order, as construction
        try:
            given[name] = getattr(msgspec.convert({name: given[name]}, _ONE[name]), name)
        except msgspec.ValidationError as exc:
            problems[name] = _config_error(str(exc))
            del given[name]
    for name, schemes, path_allowed in _URLS:
        value = given.get(name)
        if value is not None and (rule := next(_url_problems(value, schemes, path_allowed), None)):
            problems[name] = VectorVueConfigError(name, rule)
            del given[name]
    invalid = set(problems)
    values = {**_DEFAULTS, **given}
    for name, rule in _between(values):
        problems.setdefault(name, VectorVueConfigError(name, rule))
    # A field that broke its own rules has no value to show (a rule between fields names
    # fields whose values are valid each).
    return Diagnosis({k: v for k, v in values.items() if k not in invalid}, sources, problems)


def _unknown(name: str, where: str = "", choices: tuple[str, ...] = _NAMES) -> str | None:
    """The rule a name that is not among `choices` breaks, suggesting the nearest one;
    None for a known name."""
    if name in choices:
        return None
    near = difflib.get_close_matches(name, choices, n=1)
    hint = f" (did you mean {near[0]}?)" if near else ""
    return f"is not a setting{hint}{where}"


_TRUE: Final = {"1", "true", "yes", "on"}
_FALSE: Final = {"0", "false", "no", "off"}


def _from_text(name: str, text: str) -> object:
    """A flag's or variable's text as field `name`'s type: tuples comma-separated, booleans
    as 1/0, true/false, yes/no, on/off; the value itself is never quoted in an error."""
    annotation = msgspec.structs.fields(VectorVueConfig)[_NAMES.index(name)].type
    kind = _kind(annotation)
    if kind is str:
        return text
    if kind is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    lowered = text.strip().lower()
    if kind is bool and lowered in _TRUE | _FALSE:
        return lowered in _TRUE
    try:
        return msgspec.convert(text.strip(), annotation, strict=False)
    except msgspec.ValidationError as exc:
        raise _config_error(f"{exc}{_AT}.{name}`") from None


def _kind(annotation: Any) -> type:
    """str, tuple, bool or int/float: how text converts to a field (Annotated and None off)."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (types.UnionType, Union):
        return _kind(next(a for a in get_args(annotation) if a is not type(None)))
    if get_origin(annotation) in (tuple, Literal):
        return tuple if get_origin(annotation) is tuple else str
    return annotation if isinstance(annotation, type) else str


# The settings that hold the name of a secret's environment variable (proxy_from_env, a
# bool, is not one of them).
SECRET_VARIABLE_SETTINGS: Final = tuple(
    f.name
    for f in msgspec.structs.fields(VectorVueConfig)
    if f.name.endswith("_env") and _kind(f.type) is str
)


def _unknown_variables(
    environ: Mapping[str, str], prefix: str, values: Mapping[str, object]
) -> Iterator[tuple[str, str]]:
    """Each `<prefix>*` variable that is neither a setting nor a variable a setting names
    (the API key's, a password's), with its rule: a typo such as
    VECTORVUE_PINNED_CERT_SHA would otherwise turn pinning off without a word."""
    settings = tuple(prefix + name.upper() for name in _NAMES)
    # The variables the *_env settings name, configured or by default (a default-named one
    # left in the environment is harmless, and refusing it would only get in the way).
    named = {
        v
        for f in msgspec.structs.fields(VectorVueConfig)
        if f.name in SECRET_VARIABLE_SETTINGS
        for v in (values.get(f.name), f.default)
    }
    for key in environ:
        if key.startswith(prefix) and key not in named and (rule := _unknown(key, "", settings)):
            yield key, rule


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
    _check_url("HTTPS_PROXY", proxy, ("http", "https"), path_allowed=False)
    return proxy
