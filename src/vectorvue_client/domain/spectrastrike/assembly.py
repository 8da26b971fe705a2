"""Rules every SpectraStrike normalizer applies the same way: the fields lifted out of an
input's attributes, which asset an event is about, which tool it came from, the event id
and the document hash.

Lifted fields (taken out of attributes/data/context into CanonicalEvent fields, and no
longer repeated in `attributes`): tenant_id (a UUID), campaign_id, actor (-> operator_id),
severity (a level, an alias or a CVSS score), mitre_techniques, mitre_tactics (validated),
execution_hash (64 hex) and description (1-4096). A key given in two places (top level and
attributes) with different values is an error naming both.

asset_ref: the first of these that names a real asset:
1. the input's own target (`target`, a CloudEvent's `subject`, an event's `asset_ref`,
   a metasploit result's `target_host`), unless it is blank or names the orchestrator or one
   of its wrappers: ORCHESTRATOR_NAMES, compared case-insensitively with "_" read as "-"
   (the wrappers report themselves as the target of run-level events, and that says
   nothing about the host);
2. attributes.target_host;
3. attributes.scan_summary.scanned_hosts: one host -> that host; several -> joined with ","
   when the result fits 128 characters, else the first host plus " (+N more)", else (a
   first host of nearly 128 characters) the first host alone; the full list stays in
   attributes.scan_summary;
4. otherwise None (the profile that needs an asset refuses the event by name).
A target_host that became asset_ref is lifted out of attributes; scan_summary stays.

tool: the first token of event_type (split on . _ : -) that names a tool: "nmap" -> nmap,
"metasploit" or "msf" -> metasploit; otherwise None.

event_id: the input's own id when it has one; otherwise "evt-" + 40 hex of the SHA-256 of
the canonical encoding of every other field of the event (not document_sha256): the same
fact always gets the same id, so VectorVue's upsert makes every resend harmless.

document_sha256: SHA-256 hex of the canonical encoding (encoding.encode of the JSON data:
sorted keys, so key order does not change it) of the whole input document; for a broker
envelope, without its per-delivery fields (see `envelope`).

Messages are shaped in `messages`.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Collection, Mapping, Sequence
from functools import partial
from typing import Any, Final

import msgspec

from vectorvue_client.domain import models as m
from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.encoding import encode_json_data, is_plain, to_json_value
from vectorvue_client.domain.field_rules import Problems
from vectorvue_client.domain.identity import content_id
from vectorvue_client.domain.spectrastrike import fields as f

ORCHESTRATOR_NAMES: Final = frozenset(
    {
        "orchestrator",
        "spectrastrike",
        "spectrastrike-orchestrator",
        "nmap",
        "nmap-wrapper",
        "metasploit",
        "metasploit-wrapper",
        "msf",
        "msfconsole",
        "msfrpc",
        "msfrpcd",
    }
)
LIFTED_KEYS: Final = (
    "tenant_id",
    "campaign_id",
    "actor",
    "severity",
    "mitre_techniques",
    "mitre_tactics",
    "execution_hash",
    "description",
)
_TOOLS: Final = {"nmap": "nmap", "metasploit": "metasploit", "msf": "metasploit"}
_TOKEN_SPLIT: Final = re.compile(r"[._:-]")


# The small values passed between the steps of a normalizer are frozen Structs rather than
# frozen dataclasses: a frozen dataclass sets each field through object.__setattr__, which
# made building one cost more than checking the fields it holds.
class Lifted(msgspec.Struct, frozen=True):
    """The fields lifted out of an input's attributes (None or () when absent)."""

    tenant_id: str | None = None
    campaign_id: str | None = None
    operator_id: str | None = None
    severity: m.Severity | None = None
    mitre_techniques: tuple[str, ...] = ()
    mitre_tactics: tuple[str, ...] = ()
    execution_hash: str | None = None
    description: str | None = None


def lift_common(sources: Sequence[f.Source], problems: Problems) -> Lifted:
    """Every lifted field from `sources`, problems recorded rather than raised."""
    values: list[Any] = []
    for key, rule in _LIFT_RULES:
        for _, data in sources:
            if data.get(key) is not None:
                values.append(problems.check(partial(f.lift, sources, key, rule)))
                break
        else:  # in no source: None, without a rule to check (as f.lift says)
            values.append(None)
    tenant, campaign, operator, severity, techniques, tactics, execution_hash, description = values
    return Lifted(
        tenant_id=tenant,
        campaign_id=campaign,
        operator_id=operator,
        severity=severity,
        mitre_techniques=techniques or (),
        mitre_tactics=tactics or (),
        execution_hash=execution_hash,
        description=description,
    )


_LIFT_RULES: Final[tuple[tuple[str, Any], ...]] = (
    ("tenant_id", f.uuid),
    ("campaign_id", f.nonempty),
    ("actor", f.nonempty),
    ("severity", f.severity),
    ("mitre_techniques", f.mitre),
    ("mitre_tactics", f.mitre),
    ("execution_hash", f.hex64),
    ("description", f.description),
)


class Asset(msgspec.Struct, frozen=True):
    """The asset an event is about, and the input path it was read from."""

    ref: str | None = None
    path: str | None = None


def names_orchestrator(value: str) -> bool:
    """True when `value` names the orchestrator or one of its wrappers, not an asset."""
    return value.strip().lower().replace("_", "-") in ORCHESTRATOR_NAMES


def resolve_asset(own: Sequence[tuple[str, Any]], attributes: f.Source | None) -> Asset:
    """The asset_ref rule of this module's docstring; `own` are (path, value) candidates."""
    candidates = list(own)
    if attributes is not None:
        prefix, data = attributes
        candidates.append((f.at(prefix, "target_host"), data.get("target_host")))
    for path, value in candidates:
        if value is None:
            continue
        ref = f.string(value, path)
        if ref.strip() and not names_orchestrator(ref):
            return Asset(f.asset(ref, path), path)
    if attributes is not None:
        prefix, data = attributes
        summary = data.get("scan_summary")
        if isinstance(summary, Mapping) and summary.get("scanned_hosts") is not None:
            path = f.at(prefix, "scan_summary.scanned_hosts")
            return Asset(_hosts_ref(summary["scanned_hosts"], path), path)
    return Asset()


def _hosts_ref(value: Any, path: str) -> str | None:
    hosts = [f.asset(h, f"{path}[{i}]") for i, h in enumerate(f.array(value, path))]
    if not hosts:
        return None
    most = m.ASSET_REF_LEN[1]
    joined = ",".join(hosts)
    if len(joined) <= most:
        return joined
    counted = f"{hosts[0]} (+{len(hosts) - 1} more)"
    # A first host too long for the count still names a real asset; a cut name would not.
    return counted if len(counted) <= most else hosts[0]


@functools.lru_cache(maxsize=1024)  # a pure function of a few dozen event types
def tool_of(event_type: str) -> str | None:
    """The tool named by `event_type` (see this module's docstring), or None."""
    for token in _TOKEN_SPLIT.split(event_type.lower()):
        if token in _TOOLS:
            return _TOOLS[token]
    return None


def attributes_of(
    data: Mapping[str, Any], prefix: str, drop: Collection[str] = LIFTED_KEYS
) -> dict[str, Any]:
    """`data` without the `drop` keys, as JSON data (errors name `prefix`.key)."""
    out: dict[str, Any] = to_json_value({k: v for k, v in data.items() if k not in drop}, prefix)
    return out


def put(attributes: dict[str, Any], key: str, value: Any, path: str) -> None:
    """Add a fact the normalizer derived; an input attribute of that name must agree."""
    if key in attributes and attributes[key] != value:
        raise f.bad(path, f"conflicts with the {key!r} attribute this normalizer adds")
    attributes[key] = value


def document_sha256(document: Mapping[str, Any], without: Collection[str] = ()) -> str:
    """SHA-256 hex of the canonical encoding of `document` (minus `without` keys): key order
    and number spelling do not change it; NaN and non-string keys are refused by path."""
    if type(document) is dict and is_plain(document):
        # Plain JSON data already (the common case): its own encoding is the encoding of
        # its checked copy, so no copy is made.
        kept = document if not without else {k: v for k, v in document.items() if k not in without}
        return hashlib.sha256(encode_json_data(kept)).hexdigest()
    data: dict[str, Any] = {}
    for key, value in document.items():
        if not isinstance(key, str):
            raise f.bad(repr(key), f"object keys must be strings, not {type(key).__name__}")
        if key not in without:
            data[key] = to_json_value(value, key)
    return hashlib.sha256(encode_json_data(data)).hexdigest()  # checked: JSON data


def canonical_event(
    lifted: Lifted,
    *,
    event_id: str | None,
    document_sha: str,
    event_type: str,
    source_system: str,
    occurred_at: str,
    severity: m.Severity,
    message: str,
    asset_ref: str | None,
    attributes: dict[str, Any],
    tool: str | None = None,
) -> CanonicalEvent:
    """The CanonicalEvent of these fields and `lifted`: its tool `tool`, else the one
    `event_type` names; its id `event_id`, else the content hash of every field but the id
    and document_sha256 (see this module's docstring)."""
    event = CanonicalEvent(
        event_id=event_id or "",  # "" (never a valid id) until the content hash is known
        event_type=event_type,
        source_system=source_system,
        occurred_at=occurred_at,
        severity=severity,
        message=message,
        asset_ref=asset_ref,
        description=lifted.description,
        tenant_id=lifted.tenant_id,
        campaign_id=lifted.campaign_id,
        operator_id=lifted.operator_id,
        tool=tool or tool_of(event_type),
        mitre_techniques=lifted.mitre_techniques,
        mitre_tactics=lifted.mitre_tactics,
        attributes=attributes,
        execution_hash=lifted.execution_hash,
        document_sha256=document_sha,
    )
    if event_id:
        return event
    content = msgspec.structs.asdict(event)
    del content["event_id"], content["document_sha256"]
    # Every normalizer builds its fields from checked text and to_json_value output.
    own_id = content_id("evt", encode_json_data(content))
    return msgspec.structs.replace(event, event_id=own_id)
