"""The mapping rules of domain.spectrastrike, one by one, on small variations of the samples."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import msgspec
import pytest

from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.encoding import encode
from vectorvue_client.domain.errors import VectorVueConfigError, VectorVueSerializationError
from vectorvue_client.domain.profiles import to_integration_event
from vectorvue_client.domain.spectrastrike import SpectraStrikeOptions, parse_output

from .test_spectrastrike_strategies import TENANT, sample


def envelope(**attributes: Any) -> dict[str, Any]:
    """The first broker-envelope sample, with `attributes` merged into its attributes."""
    document = sample("broker-envelope.jsonl")[0]
    document["attributes"].update(attributes)
    return document


def internal(**top: Any) -> dict[str, Any]:
    """The internal-event sample with a timestamp, and `top` merged into it."""
    document = sample("internal-event.json")[0]
    document["timestamp"] = "2026-11-25T09:14:03+00:00"
    document.update(top)
    return document


DEFAULTS = SpectraStrikeOptions()


def one(document: dict[str, Any], options: SpectraStrikeOptions = DEFAULTS) -> CanonicalEvent:
    (item,) = parse_output(document, options)
    assert isinstance(item, CanonicalEvent)
    return item


def events(document: dict[str, Any], **options: Any) -> list[CanonicalEvent]:
    items = parse_output(document, SpectraStrikeOptions(**options))
    return [item for item in items if isinstance(item, CanonicalEvent)]


def refusal(document: dict[str, Any], **options: Any) -> dict[str, str]:
    """{field: rule} of every problem the refusal of `document` reports."""
    with pytest.raises(VectorVueSerializationError) as exc:
        parse_output(document, SpectraStrikeOptions(**options))
    return {p.field: p.rule for p in exc.value.problems}


# -- asset_ref ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "target", ["orchestrator", " Orchestrator ", "nmap_wrapper", "MSFRPCD", "metasploit", ""]
)
def test_a_target_naming_the_orchestrator_is_not_the_asset(target: str) -> None:
    assert one(internal(target=target)).asset_ref == "192.0.2.10,192.0.2.11"


def test_a_real_target_is_the_asset_and_target_host_stays_an_attribute() -> None:
    event = one(internal(target="db01.example.test", attributes={"target_host": "192.0.2.99"}))
    assert event.asset_ref == "db01.example.test"
    assert event.attributes["target_host"] == "192.0.2.99"


def test_target_host_used_as_the_asset_is_lifted_out_of_attributes() -> None:
    event = one(internal(attributes={"target_host": "192.0.2.99"}))
    assert event.asset_ref == "192.0.2.99"
    assert "target_host" not in event.attributes


def test_many_scanned_hosts_become_the_first_plus_a_count() -> None:
    hosts = [f"198.51.100.{n}" for n in range(20)]  # 20 * ~13 characters > 128
    event = one(envelope(scan_summary={"scanned_hosts": hosts}))
    assert event.asset_ref == "198.51.100.0 (+19 more)"
    assert event.attributes["scan_summary"] == {"scanned_hosts": hosts}


def test_no_asset_anywhere_gives_none() -> None:
    document = internal()
    del document["attributes"]["scan_summary"]
    assert one(document).asset_ref is None
    document["attributes"]["scan_summary"] = {"scanned_hosts": []}
    assert one(document).asset_ref is None


def test_an_asset_longer_than_128_is_refused_naming_where_it_came_from() -> None:
    assert "at most 128" in refusal(internal(target="h" * 129))["target"]
    document = internal()
    document["attributes"]["scan_summary"]["scanned_hosts"] = ["x" * 129]
    assert "attributes.scan_summary.scanned_hosts[0]" in refusal(document)


# -- lifted fields -----------------------------------------------------------------------------
def test_severity_aliases_and_scores_are_read_and_absence_is_info() -> None:
    assert one(envelope(severity="Med")).severity == "medium"
    assert one(envelope(severity=9.8)).severity == "critical"
    document = envelope()
    del document["attributes"]["severity"]
    assert one(document).severity == "info"
    assert "severity" not in one(envelope(severity="high")).attributes


def test_tenant_given_twice_differently_is_refused() -> None:
    document = internal()
    document["attributes"]["tenant_id"] = "20000000-0000-0000-0000-000000000002"
    assert "differs from tenant_id" in refusal(document)["attributes.tenant_id"]
    document["attributes"]["tenant_id"] = TENANT
    assert one(document).tenant_id == TENANT


def test_malformed_mitre_ids_are_refused_naming_the_attribute() -> None:
    rules = refusal(envelope(mitre_techniques=["T1595", "T15950"], mitre_tactics=["T0043"]))
    assert set(rules) == {"attributes.mitre_techniques[1]", "attributes.mitre_tactics[0]"}


def test_execution_hash_and_description_are_lifted() -> None:
    digest = hashlib.sha256(b"run").hexdigest()
    event = one(envelope(execution_hash=digest, description="A scan of the DMZ."))
    assert (event.execution_hash, event.description) == (digest, "A scan of the DMZ.")
    assert "execution_hash" not in event.attributes
    rules = refusal(internal(attributes={"execution_hash": "abc"}))
    assert rules == {"attributes.execution_hash": "'abc' is not 64 hexadecimal digits (a SHA-256)"}


def test_every_problem_of_a_document_is_reported_at_once() -> None:
    document = envelope(tenant_id="t-1", mitre_tactics=["x"])
    document["event_type"] = "nmap scan!"
    document["event_id"] = "id with spaces"
    del document["timestamp"]
    assert set(refusal(document)) == {
        "event_type",
        "event_id",
        "timestamp",
        "attributes.tenant_id",
        "attributes.mitre_tactics[0]",
    }


def test_unknown_top_level_keys_are_refused_by_name() -> None:
    rules = refusal(internal(timestmap="2026-11-25T09:14:03Z"))
    assert rules["timestmap"].startswith("unknown key (known: actor, attributes,")


def test_event_type_longer_than_64_is_refused() -> None:
    assert "at most 64" in refusal(internal(event_type="nmap_" + "x" * 60))["event_type"]


# -- messages ----------------------------------------------------------------------------------
def test_messages_are_one_line_and_quote_at_most_128_characters_of_a_value() -> None:
    event = one(internal(status="success\nInjected: line", actor="a" * 500))
    assert "\n" not in event.message
    assert event.message.startswith("nmap_scan_completed: success Injected: line, 2 hosts (")
    assert event.message.endswith("a" * 125 + "...)")


# -- envelope transport fields -----------------------------------------------------------------
def test_redelivery_fields_change_nothing_and_the_stable_ones_are_kept_nested() -> None:
    first = envelope()
    again = copy.deepcopy(first)
    again.update(attempt=2, stream_position=97)
    assert one(first) == one(again)
    assert one(first).attributes["envelope"]["schema_version"] == "telemetry.ml.v1"
    again["idempotency_key"] = "another-key"
    assert one(first) != one(again)  # a different key is a different message, not a redelivery


# -- CloudEvents -------------------------------------------------------------------------------
def cloudevent(**top: Any) -> dict[str, Any]:
    document = sample("cloudevent.json")[0]
    document.update(top)
    return document


def test_only_cloudevents_1_0_is_read() -> None:
    assert "only CloudEvents 1.0" in refusal(cloudevent(specversion="0.3"))["specversion"]


def test_a_cloudevent_id_outside_the_pattern_is_hashed_with_its_source() -> None:
    a = one(cloudevent(id="scan #1 of 2"))
    b = one(cloudevent(id="scan #1 of 2", source="/another/producer"))
    assert a.event_id.startswith("evt-") and len(a.event_id) == 44
    assert a.event_id != b.event_id
    assert one(cloudevent(id="scan #1 of 2")).event_id == a.event_id


def test_cloudevent_time_is_required_and_never_invented() -> None:
    document = cloudevent()
    del document["time"]
    assert refusal(document) == {"time": "is required"}


def test_cloudevent_binary_or_non_json_data_is_refused() -> None:
    assert "data_base64" in refusal(cloudevent(data_base64="AAAA"))
    assert "datacontenttype" in refusal(cloudevent(datacontenttype="text/plain"))
    assert "data" in refusal(cloudevent(data=[1, 2]))


def test_cloudevent_extensions_are_kept_and_bad_attribute_names_refused() -> None:
    event = one(cloudevent(traceparent="00-abc-01", dataschema="https://schemas.test/scan"))
    assert event.attributes["cloudevent_extensions"] == {"traceparent": "00-abc-01"}
    assert event.attributes["cloudevent_dataschema"] == "https://schemas.test/scan"
    assert "TraceParent" in refusal(cloudevent(TraceParent="x"))


def test_cloudevent_subject_naming_the_orchestrator_falls_back_to_data() -> None:
    document = cloudevent(subject="orchestrator")
    document["data"]["target_host"] = "192.0.2.50"
    assert one(document).asset_ref == "192.0.2.50"


# -- nmap --------------------------------------------------------------------------------------
def nmap(**top: Any) -> dict[str, Any]:
    document = sample("nmap-result.json")[0]
    document.update(top)
    return document


def test_a_host_listed_twice_is_refused() -> None:
    document = nmap()
    document["hosts"][2]["address"] = "192.0.2.10"
    assert refusal(document) == {"hosts[2].address": "repeats hosts[0].address"}


def test_nmap_needs_finished_at_and_started_at_not_later() -> None:
    document = nmap()
    del document["context"]["finished_at"]
    assert refusal(document) == {"context.finished_at": "is required"}
    document["context"]["finished_at"] = "2026-11-25T09:00:00Z"
    assert "is after context.finished_at" in refusal(document)["context.started_at"]


def test_an_up_host_without_open_ports_is_info() -> None:
    document = nmap()
    document["hosts"] = [{"address": "192.0.2.13", "status": "up", "open_ports": []}]
    (event,) = events(document)
    assert (event.severity, event.message) == ("info", "192.0.2.13 up: no open ports")


def test_open_ports_without_a_service_are_listed_by_number() -> None:
    document = nmap()
    document["hosts"] = [{"address": "192.0.2.14", "status": "up", "open_ports": [8443, 22]}]
    (event,) = events(document)
    assert (event.severity, event.message) == ("low", "192.0.2.14 up: 8443, 22")


def test_a_huge_host_still_gives_a_1024_character_message() -> None:
    document = nmap()
    services = [{"port": p, "protocol": "tcp", "name": "svc"} for p in range(1, 400)]
    document["hosts"] = [{"address": "192.0.2.15", "status": "up", "services": services}]
    (event,) = events(document)
    assert len(event.message) == 1024 and event.message.endswith("...")


def test_host_problems_are_named_by_their_path() -> None:
    document = nmap()
    document["hosts"][0]["address"] = "a" * 129
    document["hosts"][1]["hostnames"] = ["ftp.example.test"]
    document["hosts"][2]["services"] = [{"port": 70000, "protocol": "tcp"}]
    assert set(refusal(document)) == {
        "hosts[0].address",
        "hosts[1].hostnames",
        "hosts[2].services[0].port",
    }


def test_a_scan_without_hosts_yields_no_event() -> None:
    assert events(nmap(hosts=[])) == []


# -- metasploit --------------------------------------------------------------------------------
def metasploit(**top: Any) -> dict[str, Any]:
    document = sample("metasploit-result.json")[0]
    document.update(top)
    return document


@pytest.mark.parametrize(("module_type", "severity"), [("exploit", "medium"), ("auxiliary", "low")])
def test_a_run_without_sessions(module_type: str, severity: str) -> None:
    (run,) = events(metasploit(sessions=[], module_type=module_type))
    assert run.severity == severity
    assert run.message.endswith(": no session opened")
    assert run.attributes["session_count"] == 0


def test_raw_execute_response_is_never_forwarded() -> None:
    document = metasploit(raw_execute_response={"job_id": 7, "datastore": {"SMBPass": "Hunter2!x"}})
    for event in events(document):
        assert b"Hunter2!x" not in encode(event)
        assert "raw_execute_response" not in event.attributes


def test_a_long_session_output_is_cut_to_the_cap_and_hashed_whole() -> None:
    output = "x" * 600 + "END"
    document = metasploit()
    document["sessions"][0]["output"] = output
    _, session = events(document, session_output_cap=100)
    assert session.attributes["output_excerpt"] == "x" * 100
    assert session.attributes["output_truncated"] is True
    assert session.attributes["output_length"] == 603
    assert "output_sha256" not in session.attributes
    _, session = events(document, session_output_cap=0)
    assert session.attributes["output_excerpt"] == ""


@pytest.mark.parametrize(
    "secret",
    [
        "password=Sup3rS3cret!",
        "Administrator:500:aad3b435b51404eeaad3b435b51404ee:31d6cfe0d16ae931b73c59d7e0c089c0:::",
        "root:$6$Zq8sP1aB$Jx1n0Qd3e9gQz7mY5w2kR6tC4vH8bN0pL3sD7fG1hJ9kM2nB5vC8xZ1aQ4wE7rT0yU:19000:0:::",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
        "-----END OPENSSH PRIVATE KEY-----",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7cut-before-the-end",
    ],
)
def test_credential_shaped_session_output_is_masked(secret: str) -> None:
    document = metasploit()
    document["sessions"][0]["output"] = f"meterpreter > hashdump\n{secret}\n"
    _, session = events(document)
    excerpt = session.attributes["output_excerpt"]
    assert "***" in excerpt
    for part in ("Sup3rS3cret", "31d6cfe0d16ae931", "Jx1n0Qd3e9", "b3BlbnNzaC1rZXkt", "MIIEowIB"):
        assert part not in excerpt


def test_session_ids_must_be_unique() -> None:
    document = metasploit()
    document["sessions"].append(dict(document["sessions"][0]))
    assert refusal(document) == {"sessions[1].session_id": "repeats sessions[0].session_id"}


def test_a_target_host_naming_the_orchestrator_gives_no_asset() -> None:
    run, session = events(metasploit(target_host="orchestrator"))
    assert run.asset_ref is None and session.asset_ref is None
    assert run.message == "exploit unix/ftp/vsftpd_234_backdoor: 1 session opened"


# -- integration-API events ----------------------------------------------------------------------
def test_an_event_sent_through_the_integration_profile_reads_back_as_itself() -> None:
    original = one(sample("broker-envelope.jsonl")[2])
    wire = msgspec.to_builtins(to_integration_event(original))
    back = one(wire)
    assert msgspec.structs.replace(back, document_sha256=original.document_sha256) == original


def test_integration_event_metadata_becomes_attributes() -> None:
    document = sample("bad-inputs.jsonl")[0]
    del document["_why"]
    document.update(severity="high", metadata={"port": 22, "tenant_id": TENANT})
    document["mitre_techniques"] = ["T1046"]
    event = one(document)
    assert (event.severity, event.tool, event.tenant_id) == ("high", None, TENANT)
    assert event.mitre_techniques == ("T1046",)
    assert event.attributes == {"port": 22}
    assert event.event_id.startswith("evt-")


# -- options -------------------------------------------------------------------------------------
def test_options_are_checked_when_made() -> None:
    with pytest.raises(VectorVueConfigError, match="source_system"):
        SpectraStrikeOptions(source_system="spectra strike")
    with pytest.raises(VectorVueConfigError, match="session_output_cap"):
        SpectraStrikeOptions(session_output_cap=-1)
    assert one(envelope(), SpectraStrikeOptions(source_system="ss-lab")).source_system == "ss-lab"


# -- NUL characters ------------------------------------------------------------------------------
def test_a_nul_in_any_document_is_refused_naming_its_path() -> None:
    """VectorVue's database cannot store U+0000 (the integration API answers 500, the gateway
    drops the event after its 202): a document holding one anywhere is refused, by path."""
    problems = refusal(envelope(note={"lines": ["ok", "bad\x00"]}))
    assert set(problems) == {"attributes.note.lines[1]"}
    assert "NUL" in problems["attributes.note.lines[1]"]
    assert set(refusal(internal(target="192.0.2.1\x00"))) == {"target"}
