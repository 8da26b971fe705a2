"""The integration API's rules, as LocalVectorVue states them: each test sends raw bytes over
HTTPS (urllib3, the receiver's CA, 127.0.0.1) and reads the server's answer, independent of
the client's code. The rules are VectorVue's (design/vectorvue-contract.md, profile
integration-api and "Limits the client mirrors exactly"); boundaries are tested on both
sides."""

from __future__ import annotations

import http.client
import json
import ssl
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory
from vectorvue_client.testing.receiver import LocalVectorVue

PREFIX = "/api/v1/integrations/spectrastrike/"
EVENTS, FINDINGS = PREFIX + "events", PREFIX + "findings"
STATUS = PREFIX + "ingest/status/"


def event(**fields: Any) -> dict[str, Any]:
    """A valid event; `fields` override or add fields (None removes one)."""
    document = {
        "event_id": "evt-1",
        "source_system": "spectrastrike",
        "event_type": "nmap_scan_completed",
        "occurred_at": "2026-11-25T09:14:03Z",
        "severity": "medium",
        "asset_ref": "192.0.2.10",
        "message": "scan completed",
        "metadata": {"port": 22},
    }
    document.update(fields)
    return {key: value for key, value in document.items() if value is not None}


def finding(**fields: Any) -> dict[str, Any]:
    """A valid finding; `fields` override or add fields (None removes one)."""
    document = {
        "finding_id": "fnd-1",
        "title": "SSH allows password authentication",
        "description": "sshd accepts passwords.",
        "severity": "medium",
        "status": "open",
        "first_seen": "2026-11-25T09:14:03Z",
    }
    document.update(fields)
    return {key: value for key, value in document.items() if value is not None}


def nested(levels: int) -> str:
    """JSON text of an object nested `levels` deep ({"a": {"a": ... 1}})."""
    return '{"a":' * levels + "1" + "}" * levels


@pytest.fixture
def vv(local_vectorvue_factory: LocalVectorVueFactory) -> LocalVectorVue:
    return local_vectorvue_factory()


@pytest.fixture
def pool(vv: LocalVectorVue) -> Iterator[urllib3.HTTPSConnectionPool]:
    port = int(vv.url.rsplit(":", 1)[1])
    with urllib3.HTTPSConnectionPool(
        "127.0.0.1", port, ca_certs=vv.ca_pem_path, retries=False, timeout=5
    ) as p:
        yield p


class Api:
    """Raw requests to one receiver."""

    def __init__(self, vv: LocalVectorVue, pool: urllib3.HTTPSConnectionPool) -> None:
        self.vv, self.pool = vv, pool

    def post(
        self, path: str, body: bytes | Any, headers: dict[str, str] | None = None
    ) -> urllib3.BaseHTTPResponse:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = {"Authorization": f"Bearer {self.vv.api_token}", **(headers or {})}
        return self.pool.request("POST", path, body=raw, headers=sent)

    def get(self, path: str, headers: dict[str, str] | None = None) -> urllib3.BaseHTTPResponse:
        sent = {"Authorization": f"Bearer {self.vv.api_token}", **(headers or {})}
        return self.pool.request("GET", path, headers=sent)


@pytest.fixture
def api(vv: LocalVectorVue, pool: urllib3.HTTPSConnectionPool) -> Api:
    return Api(vv, pool)


def error_of(response: urllib3.BaseHTTPResponse) -> tuple[str, str]:
    """(code, message) of a 422/409 envelope."""
    (error,) = response.json()["errors"]
    return error["code"], error["message"]


# -- field lengths and patterns, both sides of each boundary --------------------------------
@pytest.mark.parametrize(
    ("field", "longest", "limit"),
    [
        ("event_id", 128, "128"),
        ("source_system", 64, "64"),
        ("event_type", 64, "64"),
        ("asset_ref", 128, "128"),
        ("message", 1024, "1024"),
    ],
)
def test_event_lengths_are_in_code_points_up_to_the_limit(
    api: Api, vv: LocalVectorVue, field: str, longest: int, limit: str
) -> None:
    fits = "é" * longest if field in {"asset_ref", "message"} else "e" * longest
    accepted = api.post(EVENTS, event(**{field: fits}))
    refused = api.post(EVENTS, event(**{field: fits + "e"}))

    assert accepted.status == 202
    assert refused.status == 422
    assert field in error_of(refused)[1] and limit in error_of(refused)[1]


@pytest.mark.parametrize("field", ["event_id", "source_system", "event_type", "asset_ref"])
def test_required_event_strings_are_not_empty(api: Api, field: str) -> None:
    response = api.post(EVENTS, event(**{field: ""}))

    assert response.status == 422
    assert field in error_of(response)[1]


@pytest.mark.parametrize("value", ["evt 1", "evt-1\n", "évt", "evt/1"])
def test_an_id_must_match_the_pattern_in_full(api: Api, value: str) -> None:
    response = api.post(EVENTS, event(event_id=value))

    assert response.status == 422
    assert "event_id" in error_of(response)[1]


@pytest.mark.parametrize(
    ("field", "shortest", "longest"),
    [("title", 3, 256), ("description", 1, 4096)],
)
def test_finding_text_lengths(api: Api, field: str, shortest: int, longest: int) -> None:
    answers = [
        api.post(FINDINGS, finding(finding_id=f"fnd-{n}", **{field: "x" * n})).status
        for n in (shortest - 1, shortest, longest, longest + 1)
    ]

    assert answers == [422, 202, 202, 422]


@pytest.mark.parametrize(("field", "longest"), [("asset_ref", 128), ("recommendation", 2048)])
def test_optional_finding_text_may_be_empty_up_to_the_limit(
    api: Api, field: str, longest: int
) -> None:
    answers = [
        api.post(FINDINGS, finding(finding_id=f"fnd-{n}", **{field: "x" * n})).status
        for n in (0, longest, longest + 1)
    ]

    assert answers == [202, 202, 422]


@pytest.mark.parametrize(("path", "document"), [(EVENTS, event()), (FINDINGS, finding())])
def test_an_unknown_field_is_422(api: Api, path: str, document: dict[str, Any]) -> None:
    response = api.post(path, {**document, "tenant": "acme"})

    assert response.status == 422
    assert "tenant" in error_of(response)[1]


def test_an_absent_id_is_derived_by_the_server(api: Api, vv: LocalVectorVue) -> None:
    response = api.post(EVENTS, event(event_id=None))

    assert response.status == 202
    (stored_id,) = vv.accepted_events()
    assert response.json()["data"] == {"event_id": stored_id}


# -- severity and status ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sent", "stored"),
    [(" HIGH ", "high"), ("Critical", "critical"), ("info" + " " * 12, "info")],
)
def test_an_event_severity_is_trimmed_and_lower_cased(
    api: Api, vv: LocalVectorVue, sent: str, stored: str
) -> None:
    assert api.post(EVENTS, event(severity=sent)).status == 202
    assert vv.accepted_events()["evt-1"]["severity"] == stored


@pytest.mark.parametrize(
    "sent", ["med", "informational", "moderate", "x", "info" + " " * 13, 3, None]
)
def test_an_event_severity_has_no_aliases_and_is_2_to_16_characters(api: Api, sent: Any) -> None:
    document = event(severity=sent) if sent is not None else {**event(), "severity": None}

    response = api.post(EVENTS, document)

    assert response.status == 422
    assert "severity" in error_of(response)[1]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("informational", "info"), (" MED ", "medium"), ("High", "high")],
)
def test_a_finding_severity_also_takes_informational_and_med(
    api: Api, vv: LocalVectorVue, sent: str, stored: str
) -> None:
    assert api.post(FINDINGS, finding(severity=sent)).status == 202
    assert vv.accepted_findings()["fnd-1"]["severity"] == stored


@pytest.mark.parametrize(
    ("sent", "answer", "stored"),
    [
        (" In_Progress ", 202, "in_progress"),
        ("closed" + " " * 26, 202, "closed"),  # 32 characters
        ("closed" + " " * 27, 422, None),  # 33
        ("x", 422, None),
        ("done", 422, None),
        (None, 202, "open"),  # absent: the default
    ],
)
def test_a_finding_status_is_2_to_32_characters_trimmed_and_lower_cased(
    api: Api, vv: LocalVectorVue, sent: str | None, answer: int, stored: str | None
) -> None:
    response = api.post(FINDINGS, finding(status=sent))

    assert response.status == answer
    assert vv.accepted_findings().get("fnd-1", {}).get("status") == stored


# -- datetimes and metadata ------------------------------------------------------------------
def test_last_seen_is_not_compared_with_first_seen(api: Api, vv: LocalVectorVue) -> None:
    document = finding(first_seen="2026-11-25T10:00:00Z", last_seen="2026-11-24T10:00:00Z")

    assert api.post(FINDINGS, document).status == 202
    assert vv.accepted_findings()["fnd-1"]["last_seen"] == "2026-11-24T10:00:00Z"


@pytest.mark.parametrize(
    ("value", "answer"),
    [
        ("2026-11-25T10:00:00+01:00", 202),
        ("2026-11-25T09:00:00", 202),
        (1795564800, 202),
        ("yesterday", 422),
        ("2026-13-01T00:00:00Z", 422),
        (True, 422),
    ],
)
def test_occurred_at_is_what_the_datetime_parser_takes(api: Api, value: Any, answer: int) -> None:
    response = api.post(EVENTS, event(occurred_at=value))

    assert response.status == answer
    if answer == 422:
        assert "occurred_at" in error_of(response)[1]


@pytest.mark.parametrize(("metadata", "answer"), [({}, 202), ([], 422), ("x", 422)])
def test_metadata_is_any_object(api: Api, metadata: Any, answer: int) -> None:
    assert api.post(EVENTS, event(metadata=metadata)).status == answer


def test_metadata_may_not_be_null(api: Api) -> None:
    response = api.post(EVENTS, {**event(), "metadata": None})

    assert response.status == 422
    assert "metadata" in error_of(response)[1]


def _with_metadata_levels(levels: int) -> bytes:
    """An event whose metadata is nested `levels` deep: the body is one level more."""
    head = json.dumps(event(metadata=None))[:-1]
    return f'{head}, "metadata": {nested(levels)}}}'.encode()


def test_metadata_150_levels_deep_is_stored(api: Api, vv: LocalVectorVue) -> None:
    assert api.post(EVENTS, _with_metadata_levels(150)).status == 202
    assert vv.receipts("evt-1") == 1


def test_a_body_500_levels_deep_passes_and_501_crashes_the_server(
    api: Api, vv: LocalVectorVue
) -> None:
    deepest = api.post(EVENTS, _with_metadata_levels(499))  # the body: 500 levels
    too_deep = api.post(EVENTS, _with_metadata_levels(500))

    assert deepest.status == 202
    assert too_deep.status == 500
    assert too_deep.data == b"Internal Server Error"


# -- NUL: passes validation, fails in PostgreSQL ---------------------------------------------
def _raw_post(vv: LocalVectorVue, path: str, body: bytes) -> tuple[int, bytes, bool]:
    """POST on a fresh http.client connection: (status, body, whether the server closed the
    connection afterwards: a second request on it fails)."""
    context = ssl.create_default_context(cafile=vv.ca_pem_path)
    port = int(vv.url.rsplit(":", 1)[1])
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
    headers = {"Authorization": f"Bearer {vv.api_token}", "Content-Type": "application/json"}
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        status, data = response.status, response.read()
        try:
            connection.request("GET", "/healthz")
            connection.getresponse().read()
        except (http.client.HTTPException, OSError):
            return status, data, True
        return status, data, False
    finally:
        connection.close()


@pytest.mark.parametrize(
    "document",
    [
        event(message="scan\x00completed"),
        event(metadata={"k\x00": 1}),
        event(metadata={"deep": [{"x": "a\x00b"}]}),
    ],
    ids=["message", "metadata-key", "metadata-deep"],
)
def test_a_nul_in_a_single_event_is_a_plain_500_and_a_closed_connection(
    vv: LocalVectorVue, document: dict[str, Any]
) -> None:
    status, body, closed = _raw_post(vv, EVENTS, json.dumps(document).encode())

    assert (status, body, closed) == (500, b"Internal Server Error", True)
    assert vv.receipts("evt-1") == 0


def test_a_nul_in_a_finding_is_a_plain_500(vv: LocalVectorVue) -> None:
    status, _, closed = _raw_post(vv, FINDINGS, json.dumps(finding(title="x\x00y")).encode())

    assert (status, closed) == (500, True)


def test_a_nul_in_a_batch_fails_only_that_item_as_ingest_failed(
    api: Api, vv: LocalVectorVue
) -> None:
    items = [
        event(event_id="evt-a"),
        event(event_id="evt-b", message="\x00"),
        event(event_id="evt-c"),
    ]

    response = api.post(EVENTS + "/batch", items)

    assert response.status == 202
    data = response.json()["data"]
    assert data["summary"] == {"total": 3, "accepted": 2, "failed": 1}
    assert [(r["item_id"], r["error_code"]) for r in data["results"]] == [
        ("evt-a", None),
        ("evt-b", "ingest_failed"),
        ("evt-c", None),
    ]
    assert (vv.receipts("evt-a"), vv.receipts("evt-b"), vv.receipts("evt-c")) == (1, 0, 1)


def test_an_invalid_field_with_a_nul_is_a_422_first(api: Api) -> None:
    response = api.post(EVENTS, event(event_id="evt\x001"))

    assert response.status == 422


# -- the body ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 422, "Request body is required"),
        (b"{not json", 422, "Invalid JSON payload"),
    ],
)
def test_an_empty_or_broken_body_is_a_422_envelope(
    api: Api, body: bytes, status: int, message: str
) -> None:
    response = api.post(EVENTS, body)

    assert response.status == status
    assert error_of(response)[1] == message


def test_bytes_that_are_not_utf8_are_a_plain_500(api: Api) -> None:
    response = api.post(EVENTS, json.dumps(event()).encode().replace(b"scan", b"sc\xffn"))

    assert response.status == 500
    assert response.data == b"Internal Server Error"


# -- batches -----------------------------------------------------------------------------------
def test_a_batch_of_250_passes_and_251_is_refused_whole(api: Api, vv: LocalVectorVue) -> None:
    full = [event(event_id=f"evt-{i}") for i in range(250)]

    accepted = api.post(EVENTS + "/batch", full)
    refused = api.post(EVENTS + "/batch", [*full, event(event_id="evt-250")])

    assert accepted.status == 202
    assert accepted.json()["data"]["summary"]["accepted"] == 250
    assert refused.status == 422
    assert error_of(refused)[0] == "batch_too_large"
    assert vv.receipts("evt-250") == 0


@pytest.mark.parametrize(("configured", "effective"), [(0, 1), (2, 2), (5000, 1000)])
def test_the_batch_limit_is_configurable_and_clamped_to_1_1000(
    local_vectorvue_factory: LocalVectorVueFactory, configured: int, effective: int
) -> None:
    vv = local_vectorvue_factory(max_batch_items=configured)
    port = int(vv.url.rsplit(":", 1)[1])
    with urllib3.HTTPSConnectionPool(
        "127.0.0.1", port, ca_certs=vv.ca_pem_path, retries=False, timeout=5
    ) as p:
        api = Api(vv, p)
        fits = api.post(EVENTS + "/batch", [event(event_id=f"e{i}") for i in range(effective)])
        over = api.post(EVENTS + "/batch", [event(event_id=f"e{i}") for i in range(effective + 1)])

    assert (fits.status, over.status) == (202, 422)
    assert error_of(over)[0] == "batch_too_large"


def test_an_empty_batch_is_accepted_as_nothing(api: Api) -> None:
    response = api.post(FINDINGS + "/batch", [])

    assert response.status == 202
    assert response.json()["data"]["summary"] == {"total": 0, "accepted": 0, "failed": 0}


def test_a_batch_that_is_not_an_array_is_422(api: Api) -> None:
    response = api.post(EVENTS + "/batch", event())

    assert response.status == 422
    assert error_of(response) == ("validation_failed", "Batch payload must be an array")


def test_a_processed_batch_is_202_even_when_every_item_failed(api: Api) -> None:
    response = api.post(FINDINGS + "/batch", [finding(title="no"), 7])

    assert response.status == 202
    document = response.json()
    assert document["status"] == "failed"
    assert [r["error_code"] for r in document["data"]["results"]] == ["validation_error"] * 2


# -- X-Request-ID and ingest status ------------------------------------------------------------
def test_a_request_id_that_is_not_a_uuid_is_a_500_once_the_item_is_valid(
    api: Api, vv: LocalVectorVue
) -> None:
    invalid_item = api.post(EVENTS, event(severity="x"), {"X-Request-ID": "req-1"})
    valid_item = api.post(EVENTS, event(), {"X-Request-ID": "req-1"})

    assert invalid_item.status == 422
    assert invalid_item.json()["request_id"] == "req-1"  # echoed: validation comes first
    assert valid_item.status == 500
    assert vv.receipts("evt-1") == 0


def test_a_uuid_request_id_is_echoed_and_keys_the_status(api: Api) -> None:
    request_id = str(uuid.uuid4())

    posted = api.post(EVENTS, event(), {"X-Request-ID": f" {request_id} "})
    status = api.get(STATUS + request_id.upper(), {"X-Request-ID": "not-a-uuid"})

    assert posted.status == 202
    assert posted.json()["request_id"] == request_id
    assert status.status == 200
    assert status.json()["request_id"] == "not-a-uuid"  # a GET only echoes the header
    assert status.json()["data"]["counts"] == {"total": 1, "accepted": 1, "failed": 0}


@pytest.mark.parametrize(("status_id", "answer"), [("not-a-uuid", 500), (str(uuid.uuid4()), 404)])
def test_the_status_of_a_non_uuid_is_500_of_an_unknown_uuid_404(
    api: Api, status_id: str, answer: int
) -> None:
    assert api.get(STATUS + status_id).status == answer
