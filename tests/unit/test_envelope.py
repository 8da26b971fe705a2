"""map_response / merge_batches: every response shape of the contract -> one ResponseEnvelope."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorvue_client.domain.envelope import (
    ErrorDetail,
    ItemOutcome,
    ResponseEnvelope,
    api_error,
    map_response,
    merge_batches,
)
from vectorvue_client.domain.http import HttpResponse
from vectorvue_client.domain.redaction import Secret


def respond(
    status: int,
    body: Any = b"",
    headers: dict[str, str] | None = None,
    *,
    item_ids: tuple[str, ...] = (),
    item_indices: list[int] | None = None,
    secrets: tuple[str | Secret, ...] = (),
) -> ResponseEnvelope:
    """map_response of a response whose body is `body` (bytes as is, anything else as JSON)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return map_response(
        HttpResponse(status, headers or {}, raw),
        attempts=2,
        idempotency_key="idem-1",
        item_ids=item_ids,
        item_indices=item_indices,
        secrets=secrets,
    )


def envelope_body(
    status: str, data: Any = None, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The integration API's envelope."""
    return {
        "request_id": "req-1",
        "status": status,
        "data": data,
        "errors": errors or [],
        "signature": None,
    }


def results(*statuses: str) -> dict[str, Any]:
    """data of a batch answer: one result per status, in order."""
    entries = [
        {
            "index": i,
            "item_id": f"evt-{i}",
            "status": s,
            "error_code": None if s == "accepted" else "validation_error",
            "error_message": None if s == "accepted" else f"item {i} is invalid",
        }
        for i, s in enumerate(statuses)
    ]
    accepted = statuses.count("accepted")
    return {
        "summary": {
            "total": len(statuses),
            "accepted": accepted,
            "failed": len(statuses) - accepted,
        },
        "results": entries,
    }


# -- single payloads -------------------------------------------------------------------------
def test_accepted_envelope_is_a_success() -> None:
    """202 {"status": "accepted"} is a success carrying the body's request_id and data."""
    env = respond(202, envelope_body("accepted", {"event_id": "e1"}), {"x-request-id": "hdr"})
    assert (env.success, env.status, env.error) == (True, "accepted", None)
    assert (env.request_id, env.data, env.errors) == ("req-1", {"event_id": "e1"}, ())
    assert (env.status_code, env.attempts, env.idempotency_key) == (202, 2, "idem-1")
    assert env.replayed is False


def test_replayed_status_is_a_success_and_marked_replayed() -> None:
    """status "replayed" (the same key and body again) is a success, flagged as a replay."""
    env = respond(202, envelope_body("replayed", {"event_id": "e1"}))
    assert (env.success, env.replayed, env.status) == (True, True, "replayed")


@pytest.mark.parametrize("value", ["true", "True", "TRUE"])
def test_idempotent_replay_header_marks_a_replay(value: str) -> None:
    """X-Idempotent-Replay: true marks the envelope replayed; it stays a success."""
    env = respond(202, envelope_body("accepted"), {"x-idempotent-replay": value})
    assert (env.success, env.replayed) == (True, True)


@pytest.mark.parametrize(
    ("status", "code"), [(409, "idempotency_conflict"), (422, "batch_too_large")]
)
def test_error_envelopes_carry_their_codes(status: int, code: str) -> None:
    """409/422 envelopes are failures whose errors[].code and message survive, also in api_error."""
    env = respond(status, envelope_body("failed", None, [{"code": code, "message": "nope"}]))
    assert (env.success, env.status, env.status_code) == (False, "failed", status)
    assert env.errors == (ErrorDetail(code=code, message="nope"),)
    assert env.error == f"{code}: nope"
    error = api_error(env, retry_after=None)
    assert (error.status_code, error.error_code, error.request_id) == (status, code, "req-1")


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        (400, "Bad request"),
        (401, "Invalid JWT"),
        (401, "Token expired"),
        (404, "Not Found"),
        (429, "Rate limit exceeded"),
    ],
)
def test_detail_bodies_are_failures_with_their_message(status: int, detail: str) -> None:
    """{"detail": "..."} (400/401/404/429) is a failure whose error is the detail."""
    env = respond(status, {"detail": detail}, {"x-request-id": "hdr-7"})
    assert (env.success, env.status, env.error) == (False, "failed", detail)
    assert env.errors == (ErrorDetail(code=None, message=detail),)
    assert env.request_id == "hdr-7"


def test_fastapi_validation_detail_names_the_fields() -> None:
    """{"detail": [{"loc": ["body", f], "msg": m}]} reads as "f: m; ..." (without "body")."""
    detail = [
        {"loc": ["body", "severity"], "msg": "Input should be 'info' or 'low'", "type": "x"},
        {"loc": ["body", "metadata", "score"], "msg": "Input should be a valid number"},
    ]
    env = respond(422, {"detail": detail})
    assert env.success is False
    assert env.error == (
        "severity: Input should be 'info' or 'low'; metadata.score: Input should be a valid number"
    )


@pytest.mark.parametrize(
    ("status", "body", "shown"),
    [
        (500, b"Internal Server Error", "Internal Server Error"),
        (502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "502 Bad Gateway"),
        (503, b"", "(empty body)"),
        (500, b"\xff\xfe not utf-8", "not utf-8"),
    ],
    ids=["plain-text-500", "html-502", "empty-503", "bad-utf8"],
)
def test_non_json_errors_are_failures_quoting_the_body(
    status: int, body: bytes, shown: str
) -> None:
    """Plain text, HTML and empty error bodies give a failure whose error quotes the body."""
    env = respond(status, body)
    assert (env.success, env.status, env.data) == (False, "failed", None)
    assert env.error is not None
    assert f"HTTP {status}" in env.error
    assert shown in env.error


@pytest.mark.parametrize(
    "body",
    [b"OK", b"<html>welcome</html>", b"", b'{"foo": 1}', b"[]", b'{"detail": "hm"}'],
    ids=["text", "html", "empty", "unknown-json", "json-array", "detail-on-2xx"],
)
@pytest.mark.parametrize("status", [200, 202])
def test_a_2xx_that_is_not_a_vectorvue_answer_is_not_a_success(status: int, body: bytes) -> None:
    """A 2xx with a body VectorVue never sends says nothing about our data: not a success."""
    env = respond(status, body)
    assert (env.success, env.status) == (False, "unrecognized_response")
    assert env.error


def test_gateway_accepted_is_a_success() -> None:
    """The gateway's 202 {"accepted": true, "request_id": uuid} is a success with that id."""
    rid = "0c7d9a53-3f1e-4a8b-b6c2-9d8e7f6a5b04"
    env = respond(202, {"accepted": True, "request_id": rid})
    assert (env.success, env.request_id, env.status, env.error) == (True, rid, "accepted", None)


@pytest.mark.parametrize("body", [{"accepted": False, "request_id": "r"}, {"accepted": "true"}])
def test_gateway_not_accepted_is_a_failure(body: dict[str, Any]) -> None:
    """Anything but "accepted": true (the boolean) is not a success."""
    env = respond(202, body)
    assert (env.success, env.status) == (False, "failed")


# -- batches ---------------------------------------------------------------------------------
IDS = ("evt-0", "evt-1", "evt-2")


def test_batch_all_accepted_is_a_success_with_caller_indices() -> None:
    """Every result accepted -> success; items carry the caller's indices and the ids."""
    env = respond(
        202,
        envelope_body("accepted", results("accepted", "accepted", "accepted")),
        item_ids=IDS,
        item_indices=[10, 11, 14],
    )
    assert env.success is True
    assert [(i.index, i.item_id, i.status) for i in env.items] == [
        (10, "evt-0", "accepted"),
        (11, "evt-1", "accepted"),
        (14, "evt-2", "accepted"),
    ]
    assert all(i.accepted for i in env.items)


def test_partial_batch_is_not_a_success() -> None:
    """A 202 "partial" batch is a failure naming the failed item, code and message."""
    env = respond(
        202, envelope_body("partial", results("accepted", "failed", "accepted")), item_ids=IDS
    )
    assert (env.success, env.status, env.status_code) == (False, "partial", 202)
    failed = [i for i in env.items if not i.accepted]
    assert failed == [ItemOutcome(1, "evt-1", "failed", "validation_error", "item 1 is invalid")]
    assert env.error is not None
    assert "item 1" in env.error


def test_failed_batch_is_not_a_success_even_as_202() -> None:
    """A processed batch where every item failed is still a 202, and not a success."""
    env = respond(
        202,
        envelope_body("failed", results("failed", "failed", "failed")),
        item_ids=IDS,
        item_indices=[3, 4, 5],
    )
    assert (env.success, env.status) == (False, "failed")
    assert [i.index for i in env.items if not i.accepted] == [3, 4, 5]


def test_missing_result_is_unknown_and_not_a_success() -> None:
    """An item the server's results do not mention is "unknown", and the batch not a success."""
    data = results("accepted", "accepted", "accepted")
    data["results"] = [r for r in data["results"] if r["index"] != 2]
    env = respond(202, envelope_body("accepted", data), item_ids=IDS, item_indices=[0, 1, 7])
    assert env.success is False
    assert [(i.index, i.status) for i in env.items] == [
        (0, "accepted"),
        (1, "accepted"),
        (7, "unknown"),
    ]


# -- secrets never echo back -----------------------------------------------------------------
secret_values = st.text(string.ascii_letters + string.digits + "_-.", min_size=8, max_size=40)
filler = st.text(string.ascii_letters + " ,.:", max_size=60)


def shown_texts(env: ResponseEnvelope) -> list[str]:
    """Every text of the envelope that may reach a log or an exception."""
    texts = [env.error or ""]
    texts += [f"{e.code} {e.message}" for e in env.errors]
    texts += [f"{i.item_id} {i.status} {i.error_code} {i.error_message}" for i in env.items]
    return texts


@settings(max_examples=150)
@given(
    secret_values,
    filler,
    filler,
    st.sampled_from(["detail", "fastapi", "errors", "items", "text"]),
    st.booleans(),
)
def test_an_echoed_secret_never_reaches_error_errors_or_items(
    secret: str, before: str, after: str, where: str, wrapped: bool
) -> None:
    """A secret given in `secrets=` that the server echoes in a message is masked everywhere."""
    echo = before + secret + after
    body: Any
    if where == "detail":
        body = {"detail": echo}
    elif where == "fastapi":
        body = {"detail": [{"loc": ["body", "message"], "msg": echo}]}
    elif where == "errors":
        body = envelope_body("failed", None, [{"code": "invalid", "message": echo}])
    elif where == "items":
        data = results("failed", "accepted", "accepted")
        data["results"][0]["error_message"] = echo
        body = envelope_body("partial", data)
    else:
        body = echo.encode()
    given_secret: str | Secret = Secret(secret) if wrapped else secret
    env = respond(422 if where != "items" else 202, body, item_ids=IDS, secrets=(given_secret,))
    for text in shown_texts(env):
        assert secret not in text


def test_an_echoed_secret_is_masked_in_codes_and_item_ids_too() -> None:
    """Codes and item ids are server text as well: an echoed secret is masked there too."""
    secret = "sk_live_ABCDEFGH12345678"
    data = results("failed", "accepted", "accepted")
    data["results"][0].update(item_id=secret, error_code=secret)
    errors = [{"code": secret, "message": "x"}]
    for status, body in (
        (422, envelope_body("failed", None, errors)),
        (202, envelope_body("partial", data)),
    ):
        env = respond(status, body, item_ids=IDS, secrets=(secret,))
        for text in shown_texts(env):
            assert secret not in text


def test_a_secret_cut_by_the_excerpt_limit_leaks_no_prefix() -> None:
    """A secret straddling the 200-character excerpt cut must not show its first characters."""
    secret = "sk_live_ABCDEFGH12345678"
    env = respond(400, {"detail": "x" * 190 + secret}, secrets=(secret,))
    assert env.error is not None
    assert secret[:10] not in env.error


# -- merging the parts of a split batch ------------------------------------------------------
def part(*statuses: str, first_index: int, attempts: int = 1) -> ResponseEnvelope:
    """The envelope of one request of a split batch."""
    status = (
        "accepted"
        if all(s == "accepted" for s in statuses)
        else "failed"
        if "accepted" not in statuses
        else "partial"
    )
    ids = tuple(f"evt-{first_index + i}" for i in range(len(statuses)))
    return map_response(
        HttpResponse(202, {}, json.dumps(envelope_body(status, results(*statuses))).encode()),
        attempts=attempts,
        idempotency_key=None,
        item_ids=ids,
        item_indices=list(range(first_index, first_index + len(statuses))),
    )


def test_merge_of_all_accepted_parts_is_a_success() -> None:
    """All parts accepted -> one success with totals, summed attempts, items in order."""
    merged = merge_batches(
        [
            part("accepted", "accepted", first_index=0, attempts=2),
            part("accepted", first_index=2, attempts=1),
        ],
        total=3,
    )
    assert (merged.success, merged.status, merged.error) == (True, "accepted", None)
    assert merged.data["summary"] == {"total": 3, "accepted": 3, "failed": 0}
    assert merged.attempts == 3
    assert [i.index for i in merged.items] == [0, 1, 2]


def test_merge_with_a_failed_item_is_partial() -> None:
    """One failed item in one part -> not a success, status partial, failed counted."""
    merged = merge_batches(
        [part("accepted", "failed", first_index=0), part("accepted", first_index=2)], total=3
    )
    assert (merged.success, merged.status) == (False, "partial")
    assert merged.data["summary"] == {"total": 3, "accepted": 2, "failed": 1}
    assert merged.error


def test_merge_with_nothing_accepted_is_failed() -> None:
    """No item accepted in any part -> status failed."""
    merged = merge_batches([part("failed", first_index=0), part("failed", first_index=1)], total=2)
    assert (merged.success, merged.status) == (False, "failed")
    assert merged.data["summary"] == {"total": 2, "accepted": 0, "failed": 2}


@settings(max_examples=100)
@given(
    st.lists(
        st.lists(st.sampled_from(["accepted", "failed"]), min_size=1, max_size=4),
        min_size=2,
        max_size=5,
    )
)
def test_merge_totals_and_success(parts_statuses: list[list[str]]) -> None:
    """Merged counts equal the items' statuses; success iff every item of every part is accepted."""
    parts, start = [], 0
    for statuses in parts_statuses:
        parts.append(part(*statuses, first_index=start))
        start += len(statuses)
    merged = merge_batches(parts, total=start)
    flat = [s for statuses in parts_statuses for s in statuses]
    accepted = flat.count("accepted")
    assert merged.data["summary"] == {
        "total": start,
        "accepted": accepted,
        "failed": start - accepted,
    }
    assert merged.success == (accepted == start)
    assert [i.index for i in merged.items] == list(range(start))
    assert merged.status == (
        "accepted" if accepted == start else "failed" if accepted == 0 else "partial"
    )


def test_merge_of_one_part_is_that_part() -> None:
    """A batch that went out as one request keeps its own envelope."""
    only = part("accepted", first_index=0)
    assert merge_batches([only], total=1) is only


def test_merging_no_parts_is_an_empty_success() -> None:
    """Valid input that yields nothing to send (a scan with no host) is not an error."""
    from vectorvue_client.domain.envelope import NOTHING_TO_SEND, merge_batches

    empty = merge_batches([], 0)
    assert empty.success
    assert empty.status == NOTHING_TO_SEND
    assert (empty.attempts, empty.items, empty.status_code) == (0, (), 0)


def test_a_batch_without_results_trusts_an_accepted_status_only() -> None:
    """No data.results at all: "accepted" means every item (the contract says a failure
    makes it "partial" or "failed"); "partial" without results leaves every item unknown."""
    from vectorvue_client.domain.envelope import map_response as mapped
    from vectorvue_client.domain.http import HttpResponse as Response

    def answer(status: str) -> Response:
        body = f'{{"request_id":"r","status":"{status}","data":{{}},"errors":[]}}'.encode()
        return Response(202, {"content-type": "application/json"}, body)

    accepted = mapped(answer("accepted"), attempts=1, idempotency_key=None, item_ids=["a", "b"])
    assert accepted.success
    assert [i.status for i in accepted.items] == ["accepted", "accepted"]
    partial = mapped(answer("partial"), attempts=1, idempotency_key=None, item_ids=["a", "b"])
    assert not partial.success
    assert [i.status for i in partial.items] == ["unknown", "unknown"]
