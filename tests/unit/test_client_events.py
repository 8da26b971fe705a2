"""The client-event body's rules, each as VectorVue's contract states it (issue 15, point 4)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import pytest

from vectorvue_client import VectorVueSerializationError
from vectorvue_client.domain.client_events import client_event, client_event_body, rate_key

# Written from the contract's lists, not read from the module under test.
EVENT_TYPES = [
    "FINDING_VIEWED",
    "FINDING_ACKNOWLEDGED",
    "REMEDIATION_OPENED",
    "REMEDIATION_COMPLETED",
    "REPORT_DOWNLOADED",
    "DASHBOARD_VIEWED",
]
OBJECT_TYPES = ["finding", "report", "dashboard", "remediation"]


def body(*args: Any, **kwargs: Any) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(client_event_body(client_event(*args, **kwargs)))
    return decoded


def refused(field: str, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(VectorVueSerializationError) as caught:
        client_event_body(client_event(*args, **kwargs))
    assert caught.value.field == field, caught.value
    return caught.value.rule


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@pytest.mark.parametrize("object_type", OBJECT_TYPES)
def test_every_listed_pair_is_accepted_and_sent_as_given(event_type: str, object_type: str) -> None:
    assert body(event_type, object_type) == {"event_type": event_type, "object_type": object_type}


def test_the_lists_are_read_trimmed_and_folded_as_the_server_does() -> None:
    sent = body("  finding_viewed ", " Finding\t")
    # Sent as given: the server trims and folds them itself.
    assert sent == {"event_type": "  finding_viewed ", "object_type": " Finding\t"}


def test_values_outside_the_lists_are_refused_naming_the_list() -> None:
    assert "FINDING_VIEWED" in refused("event_type", "FINDING_OPENED", "finding")
    assert "upper-cased" in refused("event_type", "LOGIN", "finding")
    assert "remediation" in refused("object_type", "FINDING_VIEWED", "asset")


def test_lengths_are_the_raw_values_in_code_points() -> None:
    # 3-64 before trimming: padding may push a listed value over the limit.
    assert refused("event_type", "FINDING_VIEWED" + " " * 51, "finding")
    body("FINDING_VIEWED" + " " * 50, "finding")
    assert refused("object_type", "FINDING_VIEWED", "finding" + " " * 26)
    body("FINDING_VIEWED", "finding" + " " * 25)
    assert refused("event_type", "ab", "finding")
    assert refused("object_type", "FINDING_VIEWED", "ab")


def test_optional_fields_have_their_limits() -> None:
    assert refused("object_id", "FINDING_VIEWED", "finding", object_id="é" * 129)
    assert body("FINDING_VIEWED", "finding", object_id="é" * 128)["object_id"] == "é" * 128
    assert refused("severity", "FINDING_VIEWED", "finding", severity="h" * 33)
    assert body("FINDING_VIEWED", "finding", severity=" HIGH ")["severity"] == " HIGH "
    assert refused("object_id", "FINDING_VIEWED", "finding", object_id=12)


def test_the_timestamp_is_sent_in_utc_and_a_naive_one_is_utc() -> None:
    sent = body("FINDING_VIEWED", "finding", timestamp=datetime(2026, 2, 22, 10, 0, 0))
    assert sent["timestamp"] == "2026-02-22T10:00:00Z"
    assert "timestamp" not in body("FINDING_VIEWED", "finding")
    assert refused("timestamp", "FINDING_VIEWED", "finding", timestamp="yesterday")


def test_metadata_goes_as_metadata_json_and_must_be_an_object() -> None:
    sent = body("FINDING_VIEWED", "finding", metadata={"view": "table", "n": 3})
    assert sent["metadata_json"] == {"view": "table", "n": 3}
    assert "object" in refused("metadata", "FINDING_VIEWED", "finding", metadata=["a"])


def test_a_nul_character_is_refused() -> None:
    assert "NUL" in refused("object_id", "FINDING_VIEWED", "finding", object_id="a\x00b")


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(VectorVueSerializationError) as caught:
        client_event("NOPE", "nope", severity="x" * 40)
    assert [p.field for p in caught.value.problems] == ["event_type", "object_type", "severity"]


def test_the_rate_key_is_the_tenant_and_the_lower_cased_sub() -> None:
    def jwt(claims: dict[str, Any]) -> str:
        def b64(value: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

        return f"{b64({'alg': 'HS256'})}.{b64(claims)}.c2ln"

    tenant = "ABCDEF00-0000-4000-8000-00000000000A"
    one = rate_key(jwt({"tenant_id": tenant, "sub": "Alice"}))
    assert one == rate_key(jwt({"tenant_id": tenant.lower(), "sub": "ALICE"}))
    assert one != rate_key(jwt({"tenant_id": tenant, "sub": "bob"}))
    assert one != rate_key(
        jwt({"tenant_id": "10000000-0000-4000-8000-000000000001", "sub": "alice"})
    )
