"""parse_output on every bundled sample: the exact events, written out by hand.

Content-hash ids (nmap, metasploit, an internal event without event_id) are pinned: VectorVue
upserts on event_id, so an id that changed between releases would make every re-sent
document a duplicate. document_sha256 is checked against an independent oracle (json.dumps
with sorted keys), not against the code under test.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.domain.models import IntegrationFinding
from vectorvue_client.domain.normalize import normalize_finding
from vectorvue_client.domain.spectrastrike import parse_output

from .test_spectrastrike_strategies import TENANT, sample

SCANNED = {"total_hosts": 2, "up_hosts": 2, "total_open_ports": 4}
HOSTS_2 = ["192.0.2.10", "192.0.2.11"]


def oracle_sha256(document: dict[str, Any], *drop: str) -> str:
    """SHA-256 of the document's canonical JSON (sorted keys, compact), computed without
    the client's encoder."""
    kept = {k: v for k, v in document.items() if k not in drop}
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def events_of(document: dict[str, Any]) -> list[CanonicalEvent]:
    """parse_output's items, all of which must be CanonicalEvents."""
    items = parse_output(document)
    assert all(isinstance(item, CanonicalEvent) for item in items)
    return [item for item in items if isinstance(item, CanonicalEvent)]


def problem_fields(exc: pytest.ExceptionInfo[VectorVueSerializationError]) -> set[str]:
    return {p.field for p in exc.value.problems}


def test_internal_event_sample_as_the_orchestrator_writes_it() -> None:
    """The dataclass fills event_id and timestamp and adds its stream_position: the event
    keeps its own id; the stream position describes one delivery, so it is neither kept nor
    hashed (a replay from another position is the same fact)."""
    (document,) = sample("internal-event.json")
    assert document["stream_position"] == 17
    replayed = {**document, "stream_position": 18}
    expected = [
        CanonicalEvent(
            event_id="0b7f6d1e-3c2a-4f5e-9a8b-7c6d5e4f3a21",
            event_type="nmap_scan_completed",
            source_system="spectrastrike",
            occurred_at="2026-11-25T09:14:03.512044Z",
            severity="info",
            message="nmap_scan_completed: success, 2 hosts (nmap-wrapper)",
            asset_ref="192.0.2.10,192.0.2.11",
            tenant_id=TENANT,
            campaign_id="cmp-001",
            operator_id="nmap-wrapper",
            tool="nmap",
            attributes={
                "scan_summary": {**SCANNED, "scanned_hosts": HOSTS_2},
                "host_count": 2,
                "output_format": "xml",
                "command": ["nmap", "-sS", "-oX", "-", *HOSTS_2],
                "status": "success",
            },
            document_sha256=oracle_sha256(document, "stream_position"),
        )
    ]
    assert events_of(document) == expected
    assert events_of(replayed) == expected


def test_internal_event_without_a_timestamp_is_refused_by_name() -> None:
    (document,) = sample("internal-event.json")
    del document["timestamp"]
    with pytest.raises(VectorVueSerializationError) as exc:
        parse_output(document)
    assert [(p.field, p.rule) for p in exc.value.problems] == [("timestamp", "is required")]


def test_internal_event_without_an_id_gets_its_pinned_content_id() -> None:
    """The content-hash id of an internal event is pinned (the same as in earlier releases:
    VectorVue upserts on it)."""
    (document,) = sample("internal-event.json")
    del document["event_id"], document["stream_position"]
    document["timestamp"] = "2026-11-25T09:14:03.512204+00:00"
    (event,) = events_of(document)
    assert event.event_id == "evt-72ba7efde6d8aaf7a198cf3aa01a1a5dd11049aa"
    assert event.document_sha256 == oracle_sha256(document)


def envelope_attrs(event_id: str) -> dict[str, Any]:
    return {
        "idempotency_key": event_id,
        "ordering_key": TENANT,
        "schema_version": "telemetry.ml.v1",
    }


def test_broker_envelope_samples() -> None:
    documents = sample("broker-envelope.jsonl")
    got = [events_of(d) for d in documents]
    assert [len(g) for g in got] == [1, 1, 1]
    common: dict[str, Any] = {
        "source_system": "spectrastrike",
        "tenant_id": TENANT,
        "campaign_id": "cmp-001",
    }
    scan, exploit, session = (g[0] for g in got)
    assert scan == CanonicalEvent(
        **common,
        event_id="6f0d2c8e-8d1e-4b61-9a57-2f0c9c1d7a01",
        event_type="nmap_scan_completed",
        occurred_at="2026-11-25T09:14:03.512204Z",
        severity="medium",
        message="nmap_scan_completed: success, 2 hosts (op-001)",
        asset_ref="192.0.2.10,192.0.2.11",
        operator_id="op-001",
        tool="nmap",
        attributes={
            "scan_summary": {**SCANNED, "scanned_hosts": HOSTS_2},
            "host_count": 2,
            "status": "success",
            "envelope": envelope_attrs("6f0d2c8e-8d1e-4b61-9a57-2f0c9c1d7a01"),
        },
        document_sha256=oracle_sha256(documents[0], "attempt", "stream_position"),
    )
    assert exploit == CanonicalEvent(
        **common,
        event_id="b2a4e7d0-1c3f-4e55-8a0b-7d2e9f6a1b02",
        event_type="metasploit_exploit_completed",
        occurred_at="2026-11-25T09:20:47.003911Z",
        severity="info",
        message=(
            "metasploit_exploit_completed: success on 192.0.2.11, "
            "module unix/ftp/vsftpd_234_backdoor, 1 session (op-001)"
        ),
        asset_ref="192.0.2.11",
        operator_id="op-001",
        tool="metasploit",
        attributes={
            "module_type": "exploit",
            "module_name": "unix/ftp/vsftpd_234_backdoor",
            "job_id": "7",
            "uuid": "a1b2c3d4",
            "session_count": 1,
            "status": "success",
            "envelope": envelope_attrs("b2a4e7d0-1c3f-4e55-8a0b-7d2e9f6a1b02"),
        },
        document_sha256=oracle_sha256(documents[1], "attempt", "stream_position"),
    )
    # target "metasploit" names a wrapper: the asset is attributes.target_host (lifted out).
    assert session == CanonicalEvent(
        **common,
        event_id="c9e1f3a2-5b7d-4c8e-9f0a-1b2c3d4e5f03",
        event_type="metasploit_manual_session_observed",
        occurred_at="2026-11-25T09:31:10Z",
        severity="info",
        message=(
            "metasploit_manual_session_observed: success on 192.0.2.12, "
            "meterpreter session 3 (op-002)"
        ),
        asset_ref="192.0.2.12",
        operator_id="op-002",
        tool="metasploit",
        mitre_techniques=("T1210",),
        mitre_tactics=("TA0008",),
        attributes={
            "session_id": "3",
            "session_type": "meterpreter",
            "via_exploit": "windows/smb/ms17_010_eternalblue",
            "source": "manual_metasploit",
            "status": "success",
            "envelope": envelope_attrs("c9e1f3a2-5b7d-4c8e-9f0a-1b2c3d4e5f03"),
        },
        document_sha256=oracle_sha256(documents[2], "attempt", "stream_position"),
    )


def test_cloudevent_sample() -> None:
    (document,) = sample("cloudevent.json")
    assert events_of(document) == [
        CanonicalEvent(
            event_id="0c7d9a53-3f1e-4a8b-b6c2-9d8e7f6a5b04",
            event_type="com.spectrastrike.nmap.scan.completed",
            source_system="spectrastrike",
            occurred_at="2026-11-25T10:02:00Z",
            severity="low",
            message="com.spectrastrike.nmap.scan.completed: success on 192.0.2.10 (op-001)",
            asset_ref="192.0.2.10",
            tenant_id=TENANT,
            campaign_id="cmp-001",
            operator_id="op-001",
            tool="nmap",
            attributes={
                "status": "success",
                "open_ports": [22, 443],
                "cloudevent_source": "/spectrastrike/orchestrator/nmap-wrapper",
            },
            document_sha256=oracle_sha256(document),
        )
    ]


def test_nmap_sample_gives_one_event_per_host() -> None:
    (document,) = sample("nmap-result.json")
    got = events_of(document)
    assert [e.event_id for e in got] == [
        "evt-1f9661a6372731f569ea6443705c44ae8e324851",
        "evt-c6685c392210187dc3b4675110166187378fae16",
        "evt-76c3aa014a328af0404356c3a9801461f2e1ac04",
    ]
    assert [e.asset_ref for e in got] == ["192.0.2.10", "192.0.2.11", "192.0.2.12"]
    assert [e.severity for e in got] == ["low", "low", "info"]
    assert [e.message for e in got] == [
        "192.0.2.10 up: 22/tcp ssh, 443/tcp https; OS Linux 5.4 - 5.15",
        "192.0.2.11 up: 21/tcp ftp, 80/tcp http",
        "192.0.2.12 down",
    ]
    digest = oracle_sha256(document)
    for event, host in zip(got, document["hosts"], strict=True):
        assert event.event_type == "nmap_host_scanned"
        assert event.tool == "nmap"
        assert event.occurred_at == "2026-11-25T09:14:03Z"
        assert (event.tenant_id, event.campaign_id, event.operator_id) == (
            TENANT,
            "cmp-001",
            "op-001",
        )
        assert event.mitre_techniques == event.mitre_tactics == ()
        assert event.attributes == {
            "status": host["status"],
            "open_ports": host["open_ports"],
            "services": host["services"],
            "os_matches": host["os_matches"],
            "command": document["command"],
            "started_at": "2026-11-25T09:10:00Z",
        }
        assert event.document_sha256 == digest


def test_metasploit_sample_gives_the_run_and_its_session() -> None:
    (document,) = sample("metasploit-result.json")
    output = document["sessions"][0]["output"]
    # What is forwarded, and so what the document hash covers: the output as its excerpt,
    # raw_execute_response left out (a hash of a withheld value would be a guessing oracle).
    forwarded = {k: v for k, v in document.items() if k != "raw_execute_response"}
    forwarded["sessions"] = [
        {
            "session_id": "1",
            "session_type": "shell",
            "output_excerpt": output,
            "output_truncated": False,
            "output_length": 99,
        }
    ]
    common: dict[str, Any] = {
        "source_system": "spectrastrike",
        "occurred_at": "2026-11-25T09:20:47Z",
        "asset_ref": "192.0.2.11",
        "tenant_id": TENANT,
        "campaign_id": "cmp-001",
        "operator_id": "op-001",
        "tool": "metasploit",
        "document_sha256": oracle_sha256(forwarded),
    }
    ids = {"module_name": "unix/ftp/vsftpd_234_backdoor", "job_id": "7", "uuid": "a1b2c3d4"}
    assert events_of(document) == [
        CanonicalEvent(
            **common,
            event_id="evt-d6dfd13f47c10b2a1919c6bb46392e5ad432abd2",
            event_type="metasploit_module_completed",
            severity="high",
            message="exploit unix/ftp/vsftpd_234_backdoor against 192.0.2.11: 1 session opened",
            attributes={"module_type": "exploit", **ids, "session_count": 1},
        ),
        CanonicalEvent(
            **common,
            event_id="evt-e517c627ddb25e4674ae4e089dc0215867ab89b5",
            event_type="metasploit_session_opened",
            severity="high",
            message="shell session 1 opened on 192.0.2.11 by unix/ftp/vsftpd_234_backdoor",
            attributes={
                "session_id": "1",
                "session_type": "shell",
                # 99 characters, under the cap, nothing credential-shaped: forwarded as is.
                "output_excerpt": output,
                "output_truncated": False,
                "output_length": 99,
                **ids,
            },
        ),
    ]


def test_the_metasploit_document_hash_ignores_what_is_withheld() -> None:
    """Changing raw_execute_response, or a secret the mask hides, leaves the hash alone:
    nothing withheld can be tested against it."""
    (document,) = sample("metasploit-result.json")
    base = events_of(document)[0].document_sha256
    other = {**document, "raw_execute_response": {"job_id": 7, "password": "hunter2"}}
    assert events_of(other)[0].document_sha256 == base
    sessions = [{**document["sessions"][0], "output": "password=first-secret-1"}]
    masked_a = events_of({**document, "sessions": sessions})[0].document_sha256
    sessions = [{**document["sessions"][0], "output": "password=other-secret-2"}]
    masked_b = events_of({**document, "sessions": sessions})[0].document_sha256
    assert masked_a == masked_b


def test_finding_samples_go_through_normalize_finding_unchanged() -> None:
    documents = sample("findings.jsonl")
    got = [parse_output(d) for d in documents]
    assert got == [[normalize_finding(d)] for d in documents]
    findings = [g[0] for g in got]
    assert all(isinstance(f, IntegrationFinding) for f in findings)
    assert [f.severity for f in findings if isinstance(f, IntegrationFinding)] == [
        "critical",
        "medium",
        "info",
        "high",
    ]


# (line of bad-inputs.jsonl, the field its refusal must name)
BAD = [
    (0, "severity"),
    (1, "occurred_at"),
    (2, "event_type"),
    (3, "message"),
    (4, "metadata.score"),
    (5, "tenant_id"),
    (6, "mitre_techniques[0]"),
]


@pytest.mark.parametrize(("line", "field"), BAD)
def test_bad_inputs_are_refused_naming_the_field(line: int, field: str) -> None:
    document = sample("bad-inputs.jsonl")[line]
    del document["_why"]  # the explanation is not part of the input
    with pytest.raises(VectorVueSerializationError) as exc:
        parse_output(document)
    assert field in problem_fields(exc)


def test_bad_internal_event_reports_tenant_and_timestamp_at_once() -> None:
    document = sample("bad-inputs.jsonl")[5]
    del document["_why"]
    with pytest.raises(VectorVueSerializationError) as exc:
        parse_output(document)
    assert problem_fields(exc) == {"tenant_id", "timestamp"}
    assert "'unknown-tenant' is not a UUID" in str(exc.value.problems)
    document["timestamp"] = "2026-11-25T12:00:00Z"
    with pytest.raises(VectorVueSerializationError) as exc:
        parse_output(document)
    assert problem_fields(exc) == {"tenant_id"}
