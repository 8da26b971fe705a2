"""detect_shape: the detection table is unambiguous, and classifies every sample, generated
variants of each shape, and nothing else."""

from __future__ import annotations

import itertools
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.domain.spectrastrike import Shape, detect_shape
from vectorvue_client.domain.spectrastrike.shapes import DETECTION_RULES

from . import test_spectrastrike_strategies as ss
from .strategies import json_data, shuffled

# Every rule requires one of these: a document with none of them can match no rule.
MARKERS = frozenset({"specversion", "event_type", "hosts", "module_name", "title"})


def test_every_shape_has_exactly_one_rule() -> None:
    assert sorted(r.shape for r in DETECTION_RULES) == sorted(Shape)


def test_no_document_can_match_two_rules() -> None:
    # Two rules are exclusive when one requires a key the other forbids.
    for r1, r2 in itertools.combinations(DETECTION_RULES, 2):
        assert r1.all_of & r2.none_of or r2.all_of & r1.none_of, (r1.shape, r2.shape)


def test_every_rule_requires_a_marker() -> None:
    assert all(rule.all_of & MARKERS for rule in DETECTION_RULES)


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("internal-event.json", Shape.INTERNAL_EVENT),
        ("broker-envelope.jsonl", Shape.BROKER_ENVELOPE),
        ("cloudevent.json", Shape.CLOUDEVENT),
        ("nmap-result.json", Shape.NMAP_RESULT),
        ("metasploit-result.json", Shape.METASPLOIT_RESULT),
        ("findings.jsonl", Shape.FINDING),
    ],
)
def test_samples(name: str, shape: Shape) -> None:
    assert {detect_shape(d) for d in ss.sample(name)} == {shape}


def test_bad_inputs_are_detected_as_the_shape_they_break() -> None:
    shapes = [detect_shape(d) for d in ss.sample("bad-inputs.jsonl")]
    assert shapes == [Shape.INTEGRATION_EVENT] * 5 + [Shape.INTERNAL_EVENT, Shape.INTEGRATION_EVENT]


GENERATED = [
    (ss.internal_events(), Shape.INTERNAL_EVENT),
    (ss.envelopes(), Shape.BROKER_ENVELOPE),
    (ss.cloudevents(), Shape.CLOUDEVENT),
    (ss.nmap_results(), Shape.NMAP_RESULT),
    (ss.metasploit_results(), Shape.METASPLOIT_RESULT),
    (ss.findings(), Shape.FINDING),
    (ss.integration_events(), Shape.INTEGRATION_EVENT),
]


@st.composite
def variants(draw: st.DrawFn) -> tuple[dict[str, Any], Shape]:
    """A generated document of some shape, with some of its non-identifying keys removed,
    keys in any order."""
    documents, shape = draw(st.sampled_from(GENERATED))
    document: dict[str, Any] = draw(documents)
    (rule,) = (r for r in DETECTION_RULES if r.shape is shape)
    optional = sorted(set(document) - rule.all_of)
    for key in draw(st.lists(st.sampled_from(optional), unique=True) if optional else st.just([])):
        del document[key]
    return draw(shuffled(document)), shape


@settings(max_examples=150)
@given(variants())
def test_generated_variants_are_classified_by_their_shape(
    case: tuple[dict[str, Any], Shape],
) -> None:
    document, shape = case
    assert detect_shape(document) is shape


@given(st.dictionaries(st.text(max_size=12).filter(lambda k: k not in MARKERS), json_data))
def test_a_document_without_any_marker_is_refused(document: dict[str, Any]) -> None:
    with pytest.raises(VectorVueSerializationError) as exc:
        detect_shape(document)
    assert exc.value.field == "(document)"
    assert "matches no known shape" in exc.value.rule
    for rule in DETECTION_RULES:
        assert rule.describe() in exc.value.rule


def test_a_document_mixing_two_shapes_is_refused_not_guessed() -> None:
    with pytest.raises(VectorVueSerializationError, match="matches no known shape"):
        detect_shape({"hosts": [], "module_name": "x"})


def test_the_refusal_lists_keys_but_no_values() -> None:
    with pytest.raises(VectorVueSerializationError) as exc:
        detect_shape({"a_password": "Hunter2!secret", **{f"k{i}": i for i in range(30)}})
    assert "'a_password'" in exc.value.rule
    assert "Hunter2" not in exc.value.rule
    assert "(+11 more)" in exc.value.rule


def test_a_non_object_is_refused() -> None:
    with pytest.raises(VectorVueSerializationError, match=r"must be a JSON object .* not list"):
        detect_shape([1, 2])  # type: ignore[arg-type]


# -- the precomputed decisions ------------------------------------------------------------
# Every key some normalizer knows, and a few it does not.
KEYS = [
    "X",
    "actor",
    "address",
    "asset_ref",
    "attempt",
    "attributes",
    "campaign_id",
    "command",
    "context",
    "data",
    "data_base64",
    "datacontenttype",
    "dataschema",
    "description",
    "event_id",
    "event_type",
    "execution_hash",
    "ext1",
    "finding_id",
    "finished_at",
    "first_seen",
    "host_count",
    "hosts",
    "id",
    "idempotency_key",
    "job_id",
    "last_seen",
    "message",
    "metadata",
    "mitre_tactics",
    "mitre_techniques",
    "module_name",
    "module_type",
    "name",
    "occurred_at",
    "open_ports",
    "operator_id",
    "ordering_key",
    "os_matches",
    "output",
    "output_format",
    "port",
    "protocol",
    "raw_execute_response",
    "recommendation",
    "scan_summary",
    "scanned_hosts",
    "schema_version",
    "services",
    "session_count",
    "session_id",
    "session_type",
    "sessions",
    "severity",
    "sevrity",
    "source",
    "source_system",
    "specversion",
    "started_at",
    "status",
    "stream_position",
    "subject",
    "summary",
    "target",
    "target_host",
    "tenant_id",
    "time",
    "timestamp",
    "title",
    "tool",
    "total_hosts",
    "type",
    "uuid",
]


@given(st.sets(st.sampled_from(KEYS), max_size=9))
def test_shape_decisions_are_the_table_rows(keys: set[str]) -> None:
    """detect_shape of a dict (decisions precomputed from the table) is the table read row
    by row: the one matching row's shape, or a refusal when no single row matches."""
    document = dict.fromkeys(keys, 1)
    found = [rule.shape for rule in DETECTION_RULES if rule.matches(frozenset(keys))]
    if len(found) == 1:
        assert detect_shape(document) is found[0]
        assert detect_shape(MappingProxyType(document)) is found[0]
    else:
        with pytest.raises(VectorVueSerializationError):
            detect_shape(document)
