"""Hypothesis strategies of SpectraStrike documents, shared by the test_spectrastrike_* files.

(No tests here: the file is named test_* only because the spectrastrike suite's files are.)
Every strategy builds plain JSON documents (what the orchestrator sends), valid for its
shape, with values pushed towards the contract's limits: long and hostile texts (control
characters, line separators, non-ASCII), many services, timestamps in the orchestrator's
habits (isoformat with microseconds and "+00:00", naive, "Z").
"""

from __future__ import annotations

import copy
import json
import string
from datetime import UTC, datetime
from typing import Any, Final

from hypothesis import strategies as st

from vectorvue_client.samples import sample_path

from .strategies import STORABLE, json_data, tactics, techniques

TENANT: Final = "10000000-0000-0000-0000-000000000001"


def sample(name: str) -> list[dict[str, Any]]:
    """The documents of bundled sample `name` (one per line for *.jsonl)."""
    text = sample_path(name).read_text(encoding="utf-8")
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return [json.loads(text)]


# Extra attribute keys: prefixed, so that they can never be a key the normalizers lift.
extra_keys = st.text(string.ascii_lowercase + string.digits + "_", min_size=1, max_size=8).map(
    lambda k: "x_" + k
)
extras = st.dictionaries(extra_keys, json_data, max_size=4)
hostile_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00")
    | st.sampled_from("\n\r\t\u2028"),
    min_size=1,
    max_size=300,
)
names = st.text(string.ascii_letters + string.digits + "._:-", min_size=1, max_size=64)
uuids = st.uuids().map(str)
addresses = st.one_of(
    st.integers(0, 255).map(lambda n: f"192.0.2.{n}"),
    st.integers(0, 255).map(lambda n: f"198.51.100.{n}"),
    st.text(string.ascii_lowercase + string.digits + ".-", min_size=1, max_size=128),
)


@st.composite
def iso_stamps(draw: st.DrawFn) -> str:
    """A timestamp as the orchestrator writes one: isoformat, "+00:00", naive, or "Z"."""
    moment = draw(st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)))
    form = draw(st.sampled_from(["aware", "naive", "z"]))
    if form == "aware":
        return moment.replace(tzinfo=UTC).isoformat()
    if form == "naive":
        return moment.isoformat()
    return moment.isoformat() + "Z"


@st.composite
def identity(draw: st.DrawFn) -> dict[str, Any]:
    """tenant_id / campaign_id / actor, each present or not."""
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["tenant_id"] = draw(uuids)
    if draw(st.booleans()):
        out["campaign_id"] = draw(hostile_text)
    if draw(st.booleans()):
        out["actor"] = draw(hostile_text)
    return out


@st.composite
def telemetry_attributes(draw: st.DrawFn) -> dict[str, Any]:
    """Attributes of an internal event or envelope, in the orchestrator's habits."""
    attrs: dict[str, Any] = draw(extras)
    if draw(st.booleans()):
        attrs["severity"] = draw(st.sampled_from(["low", "Med", "critical", "informational", 7.5]))
    if draw(st.booleans()):
        attrs["mitre_techniques"] = draw(st.lists(techniques, max_size=3))
    if draw(st.booleans()):
        attrs["mitre_tactics"] = draw(st.lists(tactics, max_size=3))
    choice = draw(st.sampled_from(["none", "target_host", "scanned"]))
    if choice == "target_host":
        attrs["target_host"] = draw(addresses)
    elif choice == "scanned":
        hosts = draw(st.lists(addresses, max_size=12))
        attrs["scan_summary"] = {"total_hosts": len(hosts), "scanned_hosts": hosts}
    for key in ("host_count", "session_count"):
        if draw(st.booleans()):
            attrs[key] = draw(st.integers(0, 1000))
    if draw(st.booleans()):
        attrs["module_name"] = draw(hostile_text)
    return attrs


@st.composite
def internal_events(draw: st.DrawFn) -> dict[str, Any]:
    """An internal telemetry event with a timestamp."""
    doc: dict[str, Any] = {
        "event_type": draw(names),
        "timestamp": draw(iso_stamps()),
        "actor": draw(hostile_text),
        "target": draw(st.sampled_from(["orchestrator", "nmap-wrapper", "Metasploit"]) | addresses),
        "status": draw(hostile_text),
        "attributes": draw(telemetry_attributes()),
    }
    if draw(st.booleans()):
        doc["tenant_id"] = draw(uuids)
    if draw(st.booleans()):
        doc["event_id"] = draw(st.uuids().map(str) | st.text(string.digits, min_size=1))
    return doc


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    """A broker envelope: an internal event with an id, plus the transport fields."""
    doc = draw(internal_events())
    doc.pop("tenant_id", None)
    doc["event_id"] = event_id = draw(uuids)
    doc["attributes"].update(draw(identity()))
    doc["attributes"].pop("actor", None)
    doc.update(
        idempotency_key=event_id,
        ordering_key=draw(uuids),
        stream_position=draw(st.integers(0, 10**9)),
        schema_version="telemetry.ml.v1",
        attempt=draw(st.integers(1, 20)),
    )
    return doc


@st.composite
def cloudevents(draw: st.DrawFn) -> dict[str, Any]:
    """A CloudEvents 1.0 structured-mode event; its id may not fit the contract's pattern."""
    data: dict[str, Any] = {**draw(telemetry_attributes()), **draw(identity())}
    doc: dict[str, Any] = {
        "specversion": "1.0",
        "type": draw(names),
        "source": draw(hostile_text),
        "id": draw(uuids | hostile_text),
        "time": draw(iso_stamps()),
        "data": data,
    }
    if draw(st.booleans()):
        doc["subject"] = draw(addresses | st.just("orchestrator"))
    if draw(st.booleans()):
        doc["datacontenttype"] = draw(
            st.sampled_from(["application/json", "application/cloudevents+json"])
        )
    if draw(st.booleans()):
        doc["traceparent"] = draw(hostile_text)
    return doc


@st.composite
def nmap_hosts(draw: st.DrawFn, address: str) -> dict[str, Any]:
    """One host of an nmap result."""
    services = draw(
        st.lists(
            st.fixed_dictionaries(
                {"port": st.integers(0, 65535), "protocol": st.sampled_from(["tcp", "udp"])},
                optional={"name": hostile_text},
            ),
            max_size=60,
        )
    )
    return {
        "address": address,
        "status": draw(st.sampled_from(["up", "down", "Up", "unknown"])),
        "open_ports": draw(st.lists(st.integers(0, 65535), max_size=10)),
        "services": services,
        "os_matches": draw(st.lists(hostile_text, max_size=3)),
    }


@st.composite
def nmap_results(draw: st.DrawFn) -> dict[str, Any]:
    """An nmap result with 0-8 hosts of distinct addresses."""
    hosts = draw(st.lists(addresses, unique=True, max_size=8))
    context = {**draw(identity()), "finished_at": draw(iso_stamps())}
    return {
        "command": ["nmap", "-sS", *hosts],
        "output_format": "xml",
        "hosts": [draw(nmap_hosts(address)) for address in hosts],
        "summary": {"total_hosts": len(hosts), "scanned_hosts": hosts},
        "context": context,
    }


@st.composite
def session_outputs(draw: st.DrawFn, cap: int) -> str:
    """A session output longer than `cap` (and than 24 characters), holding a "§" so that it
    cannot coincide with any other text of the event by chance."""
    size = max(cap + 1, 24)
    head = draw(st.text(STORABLE, min_size=0, max_size=size))
    tail = draw(st.text(STORABLE, min_size=max(size - len(head) - 1, 0), max_size=size + 200))
    return head + "§" + tail


@st.composite
def metasploit_results(draw: st.DrawFn, cap: int = 512) -> dict[str, Any]:
    """The metasploit sample with 0-4 sessions of distinct ids and outputs longer than `cap`."""
    doc = copy.deepcopy(sample("metasploit-result.json")[0])
    ids = draw(st.lists(st.text(string.digits, min_size=1, max_size=4), unique=True, max_size=4))
    doc["sessions"] = [
        {"session_id": i, "session_type": "shell", "output": draw(session_outputs(cap))}
        for i in ids
    ]
    doc["module_type"] = draw(st.sampled_from(["exploit", "auxiliary", "post"]))
    doc["context"].update(draw(identity()))
    return doc


@st.composite
def integration_events(draw: st.DrawFn) -> dict[str, Any]:
    """VectorVue's own event shape."""
    doc: dict[str, Any] = {
        "source_system": draw(names),
        "event_type": draw(names),
        "occurred_at": draw(iso_stamps()),
        "asset_ref": draw(addresses),
        "message": draw(st.text(STORABLE, min_size=1, max_size=1024)),
        "metadata": draw(extras),
    }
    if draw(st.booleans()):
        doc["severity"] = draw(st.sampled_from(["info", "med", "High", "9.8"]))
    if draw(st.booleans()):
        doc["mitre_techniques"] = draw(st.lists(techniques, min_size=1, max_size=3))
    return doc


@st.composite
def findings(draw: st.DrawFn) -> dict[str, Any]:
    """A finding document."""
    return {
        "title": draw(st.text(STORABLE, min_size=3, max_size=256)),
        "description": draw(st.text(STORABLE, min_size=1, max_size=400)),
        "severity": draw(st.sampled_from(["Critical", "med", "informational", "low", "7.1"])),
        "first_seen": draw(iso_stamps()),
        "asset_ref": draw(addresses),
        "metadata": draw(extras),
    }
