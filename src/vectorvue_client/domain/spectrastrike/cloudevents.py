"""CloudEvents 1.0, structured JSON mode: {specversion, id, source, type, time, subject?,
datacontenttype?, dataschema?, data?, <extensions>}.

Mapping (the shared rules of `assembly` apply: lifted fields, asset_ref, tool, event id):
- specversion must be "1.0": another version may mean other attribute semantics, and
  guessing them would misfile events, so it is refused by name;
- event_id: `id` when it fits 1-128 of [A-Za-z0-9._:-]; otherwise (CloudEvents allows any
  string) "evt-" + a hash of (source, id), the pair CloudEvents declares unique;
- event_type: `type` (1-64 of [A-Za-z0-9._:-]); tool from its tokens
  ("com.spectrastrike.nmap.scan.completed" -> nmap);
- occurred_at: `time`, REQUIRED (optional in CloudEvents, but never invented here);
- asset_ref: `subject` (unless it names the orchestrator), else data.target_host, else
  data.scan_summary.scanned_hosts;
- data's tenant_id, campaign_id, actor (-> operator_id), severity (else "info"),
  mitre_techniques, mitre_tactics, execution_hash and description are lifted;
- attributes: the rest of data, plus `cloudevent_source` = source, `cloudevent_dataschema`
  when present, and `cloudevent_extensions` = the extension attributes (lowercase
  alphanumeric names, as the specification defines them) when there are any;
- data must be a JSON object (datacontenttype, when given, a JSON media type); binary data
  (`data_base64`) is refused, since nothing in it could be validated;
- message: as for telemetry events, from data.status, the asset and the data's details.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import Any, Final

from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.encoding import encode_json_data, to_json_value
from vectorvue_client.domain.field_rules import Problems
from vectorvue_client.domain.identity import content_id
from vectorvue_client.domain.spectrastrike import assembly as a
from vectorvue_client.domain.spectrastrike import fields as f
from vectorvue_client.domain.spectrastrike import messages as msg
from vectorvue_client.domain.spectrastrike.options import SpectraStrikeOptions

SPEC_VERSION: Final = "1.0"
CORE_KEYS: Final = frozenset(
    {"specversion", "id", "source", "type", "time", "subject", "datacontenttype", "dataschema"}
)
_EXTENSION_NAME: Final = re.compile(r"^[a-z0-9]{1,20}\Z")
_JSON_MEDIA: Final = re.compile(r"(?i)^\s*application/(?:[\w.+-]+\+)?json\s*(?:;.*)?\Z")


def from_cloudevent(
    document: Mapping[str, Any], options: SpectraStrikeOptions
) -> list[CanonicalEvent]:
    """The one CanonicalEvent of a structured-mode CloudEvent."""
    problems = Problems()
    extensions = _extensions(document, problems)
    version = document.get("specversion")
    if version != SPEC_VERSION:
        problems.add("specversion", f"only CloudEvents {SPEC_VERSION} is read, not {version!r:.20}")
    ce_id = problems.check(lambda: f.nonempty(f.required(document, "id"), "id"))
    source = problems.check(lambda: f.nonempty(f.required(document, "source"), "source"))
    event_type = problems.check(lambda: f.name(f.required(document, "type"), "type"))
    occurred_at = problems.check(lambda: f.timestamp(f.required(document, "time"), "time"))
    problems.check(lambda: f.optional(document, "datacontenttype", _json_media))
    schema = problems.check(lambda: f.optional(document, "dataschema", f.nonempty))
    data = problems.check(lambda: f.mapping(f.get(document, "data", {}), "data"))
    data = data if data is not None else {}
    lifted = a.lift_common([("data", data)], problems)
    status = problems.check(lambda: f.optional(data, "status", f.string, "data"))
    asset = problems.check(
        lambda: a.resolve_asset([("subject", document.get("subject"))], ("data", data))
    )
    attributes = problems.check(lambda: _attributes(data, asset, source, schema, extensions))
    digest = problems.check(lambda: a.document_sha256(document))
    problems.raise_if_any()
    assert ce_id is not None and source is not None and event_type is not None
    assert occurred_at is not None and asset is not None
    assert attributes is not None and digest is not None
    return [
        _event(
            options,
            lifted,
            ce_id=ce_id,
            source=source,
            event_type=event_type,
            occurred_at=occurred_at,
            status=status,
            asset=asset,
            data=data,
            attributes=attributes,
            digest=digest,
        )
    ]


def _event(
    options: SpectraStrikeOptions,
    lifted: a.Lifted,
    *,
    ce_id: str,
    source: str,
    event_type: str,
    occurred_at: str,
    status: str | None,
    asset: a.Asset,
    data: Mapping[str, Any],
    attributes: dict[str, Any],
    digest: str,
) -> CanonicalEvent:
    return msg.telemetry_event(
        options.source_system,
        lifted,
        event_type=event_type,
        occurred_at=occurred_at,
        event_id=_event_id(ce_id, source),
        status=status,
        asset=asset,
        facts=data,
        attributes=attributes,
        digest=digest,
    )


def _event_id(ce_id: str, source: str) -> str:
    if f.fits_identifier(ce_id):
        return ce_id
    return content_id("evt", encode_json_data({"id": ce_id, "source": source}))


def _json_media(value: Any, path: str) -> str:
    if not _JSON_MEDIA.match(f.string(value, path)):
        raise f.bad(path, f"{value[:40]!r} is not a JSON media type; only JSON data is read")
    return value  # type: ignore[no-any-return]  # checked to be a str just above


def _extensions(document: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in document.items():
        if key in CORE_KEYS or key == "data":
            continue
        if key == "data_base64":
            problems.add(key, "binary data is not read: send the data as a JSON object")
        elif isinstance(key, str) and _EXTENSION_NAME.match(key):
            out[key] = problems.check(partial(to_json_value, value, key))
        else:
            problems.add(
                str(key),
                "is neither a CloudEvents 1.0 attribute nor an extension name "
                "(1-20 lowercase letters or digits)",
            )
    return out


def _attributes(
    data: Mapping[str, Any],
    asset: a.Asset | None,
    source: str | None,
    schema: str | None,
    extensions: dict[str, Any],
) -> dict[str, Any]:
    lifted_host = asset is not None and asset.path == "data.target_host"
    out = a.attributes_of(data, "data", a.LIFTED_KEYS + (("target_host",) if lifted_host else ()))
    if source is not None:
        a.put(out, "cloudevent_source", source, "data.cloudevent_source")
    if schema is not None:
        a.put(out, "cloudevent_dataschema", schema, "data.cloudevent_dataschema")
    if extensions:
        a.put(out, "cloudevent_extensions", extensions, "data.cloudevent_extensions")
    return out
