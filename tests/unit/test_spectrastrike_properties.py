"""Properties of parse_output over generated SpectraStrike documents of every shape.

The contract checks use regexes written here from docs/vectorvue-contract.md, not the
patterns of domain.models, so that a wrong constant there cannot hide a wrong event here.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from typing import Any, Final

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.encoding import encode
from vectorvue_client.domain.normalize import normalize_event
from vectorvue_client.domain.profiles import to_integration_event
from vectorvue_client.domain.spectrastrike import SpectraStrikeOptions, parse_output

from . import test_spectrastrike_strategies as ss
from .strategies import shuffled

ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
NAME: Final = re.compile(r"[A-Za-z0-9._:-]{1,64}")
RFC3339_Z: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?Z"
)
TECHNIQUE: Final = re.compile(r"T[0-9]{4}(\.[0-9]{3})?")
TACTIC: Final = re.compile(r"TA[0-9]{4}")
UUID: Final = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
HEX64: Final = re.compile(r"[0-9a-f]{64}")
NOT_ASSETS: Final = {"orchestrator", "nmap-wrapper", "metasploit", "nmap"}

any_document = st.one_of(
    ss.internal_events(),
    ss.envelopes(),
    ss.cloudevents(),
    ss.nmap_results(),
    ss.metasploit_results(),
    ss.findings(),
    ss.integration_events(),
)
event_documents = st.one_of(
    ss.internal_events(),
    ss.envelopes(),
    ss.cloudevents(),
    ss.nmap_results(),
    ss.metasploit_results(),
    ss.integration_events(),
)


def canonical_events(document: dict[str, Any], **options: Any) -> list[CanonicalEvent]:
    items = parse_output(document, SpectraStrikeOptions(**options))
    assert all(isinstance(item, CanonicalEvent) for item in items)
    return [item for item in items if isinstance(item, CanonicalEvent)]


@settings(max_examples=60)
@given(any_document, st.data())
def test_parse_output_is_deterministic_and_blind_to_key_order(
    document: dict[str, Any], data: st.DataObject
) -> None:
    first = parse_output(document)
    again = parse_output(copy.deepcopy(document))
    reordered = parse_output(data.draw(shuffled(document)))
    assert first == again == reordered
    assert encode(first) == encode(again) == encode(reordered)


@settings(max_examples=60)
@given(ss.nmap_results())
def test_nmap_ids_are_unique_per_host_and_stable_across_runs(document: dict[str, Any]) -> None:
    got = canonical_events(document)
    assert [e.asset_ref for e in got] == [h["address"] for h in document["hosts"]]
    ids = [e.event_id for e in got]
    assert len(set(ids)) == len(ids)
    assert [e.event_id for e in canonical_events(copy.deepcopy(document))] == ids


@settings(max_examples=60)
@given(ss.envelopes(), st.integers(1, 50), st.integers(0, 10**12))
def test_a_redelivered_envelope_gives_the_same_event(
    document: dict[str, Any], attempt: int, position: int
) -> None:
    redelivered = {**copy.deepcopy(document), "attempt": attempt, "stream_position": position}
    assert canonical_events(redelivered) == canonical_events(document)


def assert_meets_the_contract(event: CanonicalEvent, *, own_message: bool) -> None:
    assert ID.fullmatch(event.event_id)
    assert NAME.fullmatch(event.event_type)
    assert NAME.fullmatch(event.source_system)
    assert RFC3339_Z.fullmatch(event.occurred_at)
    assert event.severity in {"info", "low", "medium", "high", "critical"}
    assert 1 <= len(event.message) <= 1024
    if not own_message:  # a message written by the normalizer is one line
        assert not any(
            unicodedata.category(c)[0] == "C" or c in "\u2028\u2029" for c in event.message
        )
    if event.asset_ref is not None:
        assert 1 <= len(event.asset_ref) <= 128
        assert event.asset_ref.strip().lower() not in NOT_ASSETS
    if event.description is not None:
        assert 1 <= len(event.description) <= 4096
    assert all(TECHNIQUE.fullmatch(t) for t in event.mitre_techniques)
    assert all(TACTIC.fullmatch(t) for t in event.mitre_tactics)
    assert event.tenant_id is None or UUID.fullmatch(event.tenant_id)
    assert event.tool in {None, "nmap", "metasploit"}
    assert HEX64.fullmatch(event.document_sha256)
    # The attributes are JSON data: they survive a trip through the wire format unchanged.
    assert msgspec.json.decode(encode(event.attributes)) == event.attributes


@settings(max_examples=150)
@given(event_documents)
def test_every_event_meets_the_contract(document: dict[str, Any]) -> None:
    # VectorVue's own event shape carries its own message, kept as normalize_event checks it.
    own_message = "source_system" in document
    for event in canonical_events(document):
        assert_meets_the_contract(event, own_message=own_message)


@settings(max_examples=60)
@given(st.integers(0, 64).flatmap(lambda cap: st.tuples(st.just(cap), ss.metasploit_results(cap))))
def test_a_session_output_longer_than_the_cap_is_never_forwarded_whole(
    case: tuple[int, dict[str, Any]],
) -> None:
    cap, document = case
    got = canonical_events(document, session_output_cap=cap)
    assert len(got) == 1 + len(document["sessions"])
    for session, event in zip(document["sessions"], got[1:], strict=True):
        output: str = session["output"]
        assert len(output) > cap
        assert len(event.attributes["output_excerpt"]) <= cap
        needle = msgspec.json.encode(output)[1:-1]  # the output as it would appear in JSON
        for any_event in got:
            assert needle not in encode(any_event)


def test_the_search_above_would_find_an_output_forwarded_whole() -> None:
    document = ss.sample("metasploit-result.json")[0]
    output = document["sessions"][0]["output"]
    _, session = canonical_events(document)
    assert msgspec.json.encode(output)[1:-1] in encode(session)


@given(event_documents)
def test_the_integration_event_of_a_read_event_is_normalize_events_own(
    document: dict[str, Any],
) -> None:
    """to_integration_event converts without normalize_event's Python steps, on the ground
    that the readers already gave every field its normalized form: normalize_event then
    changes nothing, down to the bytes."""
    for event in canonical_events(document):
        if event.asset_ref is None:
            continue
        payload = to_integration_event(event)
        again = normalize_event(msgspec.structs.asdict(payload))
        assert again == payload
        assert encode(again) == encode(payload)
