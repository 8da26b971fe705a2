"""Every response shape VectorVue produces, mapped to one ResponseEnvelope.

Shapes seen on the real servers: the integration API's JSON envelope (202, 409, 422),
`{"detail": ...}` (400/401/404/429 and every gateway error), the gateway's
`{"accepted": true, "request_id": ...}`, a plain-text 500, and the odd non-JSON 2xx from a
proxy, which is NOT a success: nothing says VectorVue has the data.

Everything of the server's in an envelope is masked of every known secret (ADR 0021): the
decoded body (`data`, and what is read from it) whenever it may hold one, the request id
of the header, and the texts shown (also scrubbed of secret shapes). A signed answer's
signature is checked first, on the body as it came (domain.envelope_signature).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import repeat
from typing import Any, Final

import msgspec

from vectorvue_client.domain.envelope_signature import (
    NOT_CHECKED,
    NOT_CHECKED_RESULT,
    UNSIGNED,
    SignatureCheck,
    SignatureStatus,
    combined,
)
from vectorvue_client.domain.errors import VectorVueAPIError
from vectorvue_client.domain.http import HttpResponse
from vectorvue_client.domain.redaction import (
    Secret,
    excerpt,
    json_may_hold_secret,
    mask_known,
    mask_known_json,
    scrub,
)

ACCEPTED: Final = "accepted"
REPLAYED: Final = "replayed"
PARTIAL: Final = "partial"
FAILED: Final = "failed"
UNRECOGNIZED: Final = "unrecognized_response"
NO_RESULT: Final = "unknown"  # the server's batch answer said nothing about this item
_SUCCESS_STATUSES: Final = frozenset({ACCEPTED, REPLAYED})


class ErrorDetail(msgspec.Struct, frozen=True):
    """One entry of the envelope's `errors`."""

    code: str | None
    message: str


class ItemOutcome(msgspec.Struct, frozen=True):
    """What became of one item of a batch; `index` is its position in the caller's list."""

    index: int
    item_id: str | None
    status: str
    error_code: str | None = None
    error_message: str | None = None

    @property
    def accepted(self) -> bool:
        """True when VectorVue stored this item."""
        return self.status == ACCEPTED


class ResponseEnvelope(msgspec.Struct, frozen=True):
    """The outcome of one send, whatever shape VectorVue answered in.

    `success` is True only when VectorVue said it has every item: a 2xx alone is not
    enough (a partial batch, a failed batch and a non-JSON 2xx are all failures).
    """

    success: bool
    status_code: int
    request_id: str | None
    error: str | None
    status: str | None = None
    data: Any = None
    errors: tuple[ErrorDetail, ...] = ()
    attempts: int = 1
    idempotency_key: str | None = None
    items: tuple[ItemOutcome, ...] = ()
    replayed: bool = False
    # The answer's signature (integration API, with a compliance secret configured):
    # "verified", "unsigned", "invalid" or "not_checked"; `signature_problem` says why
    # when it is not verified (ADR 0034).
    signature_status: SignatureStatus = NOT_CHECKED
    signature_problem: str | None = None


def map_response(
    response: HttpResponse,
    *,
    attempts: int,
    idempotency_key: str | None,
    item_ids: Sequence[str] = (),
    item_indices: Sequence[int] | None = None,
    secrets: Iterable[str | Secret] = (),
    verify: Callable[[Any], SignatureCheck] | None = None,
) -> ResponseEnvelope:
    """The envelope for `response`. For a batch, `item_ids` are the ids sent (in order) and
    `item_indices` their positions in the caller's list (default 0..n-1). `verify`, given
    for an answer VectorVue signs, checks the decoded body as it came, before any masking."""
    secrets = tuple(secrets)
    parsed = _decode(response.body)
    check = NOT_CHECKED_RESULT
    if verify is not None:
        check = verify(parsed) if parsed is not None else SignatureCheck(UNSIGNED, "no JSON body")
    if parsed is not None and json_may_hold_secret(response.body, secrets):
        # Everything below reads the masked copy. Skipped when no known secret is in the
        # bytes: the walk costs as much as the decoding, on every success.
        parsed = mask_known_json(parsed, secrets)
    ok = 200 <= response.status < 300
    replayed = (response.header("x-idempotent-replay") or "").lower() == "true"
    common: dict[str, Any] = {
        "status_code": response.status,
        "attempts": attempts,
        "idempotency_key": idempotency_key,
        "signature_status": check.status,
        "signature_problem": check.problem,
    }

    if (
        isinstance(parsed, dict)
        and "status" in parsed
        and ("data" in parsed or "errors" in parsed or "request_id" in parsed)
    ):
        status = _text(parsed.get("status"))
        errors = _errors(parsed.get("errors"), secrets)
        data = parsed.get("data")
        items = _items(data, item_ids, item_indices, secrets, status) if item_ids else ()
        replayed = replayed or status == REPLAYED
        success = ok and status in _SUCCESS_STATUSES and all(i.status == ACCEPTED for i in items)
        # Masked whole once more: joining masked parts can spell a secret anew.
        error = None if success else mask_known(_summary(errors, items, status, response.status))
        return ResponseEnvelope(
            success=success,
            request_id=_text(parsed.get("request_id")) or _header_id(response, secrets),
            error=error,
            status=status,
            data=data,
            errors=errors,
            items=items,
            replayed=replayed,
            **common,
        )

    if isinstance(parsed, dict) and "accepted" in parsed:  # the telemetry gateway's 202
        success = ok and parsed.get("accepted") is True
        return ResponseEnvelope(
            success=success,
            request_id=_text(parsed.get("request_id")) or _header_id(response, secrets),
            error=None if success else f"HTTP {response.status}: the gateway did not accept it",
            status=ACCEPTED if success else FAILED,
            data=parsed,
            **common,
        )

    if isinstance(parsed, dict) and "detail" in parsed:
        message = _shown(_detail_text(parsed["detail"]), secrets)
        return ResponseEnvelope(
            success=False,
            request_id=_header_id(response, secrets),
            error=message,
            status=FAILED if not ok else UNRECOGNIZED,
            data=parsed,
            errors=(ErrorDetail(code=None, message=message),),
            **common,
        )

    # Plain text, HTML from a proxy, empty, or JSON of no known shape.
    text = response.body.decode("utf-8", errors="replace").strip()
    shown = _shown(text, secrets) if text else "(empty body)"
    what = "a body that is not a VectorVue response" if ok else "an error"
    return ResponseEnvelope(
        success=False,
        request_id=_header_id(response, secrets),
        error=mask_known(f"HTTP {response.status} with {what}: {shown}"),
        status=UNRECOGNIZED if ok else FAILED,
        data=None,
        **common,
    )


def api_error(envelope: ResponseEnvelope, retry_after: float | None) -> VectorVueAPIError:
    """The exception for an envelope of a non-2xx response."""
    code = envelope.errors[0].code if envelope.errors else None
    return VectorVueAPIError(
        status_code=envelope.status_code,
        error_code=code,
        message=envelope.error or f"HTTP {envelope.status_code}",
        request_id=envelope.request_id,
        retry_after=retry_after,
        envelope=envelope,
    )


NOTHING_TO_SEND: Final = "nothing_to_send"


def merge_batches(parts: Sequence[ResponseEnvelope], total: int) -> ResponseEnvelope:
    """One envelope for a batch that went out as several requests (in order). No part at
    all (valid input that yields nothing, such as a scan that found no host) is a success
    with status "nothing_to_send", status_code 0 and no attempt."""
    if not parts:
        return ResponseEnvelope(
            success=True,
            status_code=0,
            request_id=None,
            error=None,
            status=NOTHING_TO_SEND,
            data={"summary": {"total": 0, "accepted": 0, "failed": 0}, "requests": []},
            attempts=0,
        )
    if len(parts) == 1:
        return parts[0]
    items = tuple(item for part in parts for item in part.items)
    accepted = sum(1 for item in items if item.accepted)
    success = all(part.success for part in parts)
    status = ACCEPTED if success else (FAILED if accepted == 0 else PARTIAL)
    failures = [part.error for part in parts if part.error]
    return ResponseEnvelope(
        success=success,
        status_code=parts[-1].status_code,
        request_id=parts[0].request_id,
        error=None
        if success
        else mask_known("; ".join(failures)) or f"{total - accepted} item(s) not accepted",
        status=status,
        data={
            "summary": {"total": total, "accepted": accepted, "failed": total - accepted},
            "requests": [
                {
                    "request_id": part.request_id,
                    "status": part.status,
                    "status_code": part.status_code,
                    "attempts": part.attempts,
                    "items": len(part.items),
                }
                for part in parts
            ],
        },
        errors=tuple(error for part in parts for error in part.errors),
        attempts=sum(part.attempts for part in parts),
        idempotency_key=None,
        items=items,
        signature_status=(signed := combined([part.signature_status for part in parts])),
        signature_problem=next(
            (part.signature_problem for part in parts if part.signature_status == signed), None
        ),
    )


def _decode(body: bytes) -> Any:
    if not body:
        return None
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):  # nested past the interpreter's limit
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _header_id(response: HttpResponse, secrets: tuple[str | Secret, ...]) -> str | None:
    # Server text like the body, masked where it is used (the body's id comes first).
    value = response.header("x-request-id")
    return None if value is None else mask_known(value, secrets)


# Scrub before cutting: cutting first could leave the head of a secret unmasked. The margin
# bounds the work on a huge body and is longer than any credential we know of.
_SCRUB_MARGIN: Final = 8192


def _shown(text: str, secrets: tuple[str | Secret, ...], limit: int = 200) -> str:
    """Server-provided text fit to show: secrets masked, then cut to `limit`."""
    head = scrub(text[: limit + _SCRUB_MARGIN], secrets)
    return excerpt(head, limit)


_ITEM_STATUSES: Final = frozenset({ACCEPTED, FAILED})


def _status(value: Any, secrets: tuple[str | Secret, ...]) -> str:
    # The two statuses of the contract need no scrubbing (this runs for every item of
    # every batch); anything else is server text like any other.
    if value in _ITEM_STATUSES:
        return str(value)
    return _code(value, secrets) or NO_RESULT


def _code(value: Any, secrets: tuple[str | Secret, ...]) -> str | None:
    return _shown(value, secrets, 64) if isinstance(value, str) else None


def _detail_text(detail: Any) -> str:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):  # FastAPI validation errors: [{"loc": [...], "msg": ...}]
        parts = []
        for entry in detail:
            if isinstance(entry, Mapping):
                loc = ".".join(str(p) for p in entry.get("loc", ()) if p != "body")
                parts.append(f"{loc}: {entry.get('msg', '')}" if loc else str(entry.get("msg")))
            else:
                parts.append(str(entry))
        return "; ".join(parts)
    return str(detail)


def _errors(raw: Any, secrets: tuple[str | Secret, ...]) -> tuple[ErrorDetail, ...]:
    if not isinstance(raw, list):
        return ()
    out = []
    for entry in raw:
        if isinstance(entry, Mapping):
            message = _shown(str(entry.get("message", "")), secrets)
            out.append(ErrorDetail(code=_code(entry.get("code"), secrets), message=message))
    return tuple(out)


def _items(
    data: Any,
    item_ids: Sequence[str],
    item_indices: Sequence[int] | None,
    secrets: tuple[str | Secret, ...],
    status: str | None,
) -> tuple[ItemOutcome, ...]:
    indices = item_indices if item_indices is not None else range(len(item_ids))
    if len(indices) != len(item_ids):
        raise ValueError("item_ids and item_indices differ in length")
    results = data.get("results") if isinstance(data, Mapping) else None
    if results is None and status == ACCEPTED:
        # No per-item results at all, and the batch says "accepted": by the contract that
        # is every item (a batch with a failure says "partial" or "failed"). Results that
        # are present but leave an item out still make that item "unknown".
        return tuple(map(ItemOutcome, indices, item_ids, repeat(ACCEPTED)))
    by_local: dict[int, Mapping[str, Any]] = {}
    if isinstance(results, list):
        for entry in results:
            if isinstance(entry, Mapping) and isinstance(entry.get("index"), int):
                by_local[entry["index"]] = entry
    out = []
    for local, (item_id, index) in enumerate(zip(item_ids, indices, strict=True)):
        entry = by_local.get(local)
        if entry is None:
            out.append(ItemOutcome(index, item_id, NO_RESULT, None, "no result for this item"))
            continue
        message = entry.get("error_message")
        out.append(
            ItemOutcome(
                index=index,
                item_id=item_id,  # ours: the server's copy adds nothing but an echo risk
                status=_status(entry.get("status"), secrets),
                error_code=_code(entry.get("error_code"), secrets),
                error_message=_shown(message, secrets) if isinstance(message, str) else None,
            )
        )
    return tuple(out)


def _summary(
    errors: tuple[ErrorDetail, ...],
    items: tuple[ItemOutcome, ...],
    status: str | None,
    status_code: int,
) -> str:
    if errors:
        return "; ".join(f"{e.code}: {e.message}" if e.code else e.message for e in errors)
    failed = [i for i in items if not i.accepted]
    if failed:
        first = failed[0]
        return (
            f"{len(failed)} of {len(items)} item(s) not accepted; first: item {first.index} "
            f"({first.error_code or first.status}: {first.error_message or 'no reason given'})"
        )
    return f"HTTP {status_code} with status {status!r}"
