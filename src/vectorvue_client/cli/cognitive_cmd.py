"""`feedback TENANT` and `graph push FILE`: the cognitive loop of the telemetry gateway."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from vectorvue_client.cli.common import EXIT_OK, EXIT_REJECTED, emit, error, open_client, table
from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.domain.feedback import FeedbackVerificationError

# A graph file larger than the gateway's proxy accepts is refused on reading it whole.
_MAX_FILE_BYTES = (1 << 20) + 1


def feedback(args: argparse.Namespace) -> int:
    """The verified adjustments of a tenant, and the items dropped; exit 1 when the answer
    fails a check (named) or when items were dropped."""
    with open_client(args) as client:
        try:
            verified = client.query_feedback(args.tenant, limit=args.limit)
        except FeedbackVerificationError as exc:
            if args.json:
                refused = {"tenant_id": args.tenant, "verified": False, "check": exc.check.value}
                print(json.dumps({**refused, "detail": exc.detail}, sort_keys=True))
            error(str(exc), exit_code=EXIT_REJECTED, field="check", rule=exc.check.value)
            return EXIT_REJECTED
    adjustments = [msgspec.to_builtins(a) for a in verified.adjustments]
    dropped = [msgspec.to_builtins(d) for d in verified.dropped]
    data: dict[str, Any] = {
        "tenant_id": verified.tenant_id,
        "verified": True,
        "kid": verified.kid,
        "signed_at": verified.signed_at,
        "nonce": verified.nonce,
        "request_id": verified.request_id,
        "adjustments": adjustments,
        "dropped": dropped,
    }
    lines = [
        f"{len(adjustments)} verified adjustment(s) for {verified.tenant_id} "
        f"(kid {verified.kid}, signed at {verified.signed_at})"
    ]
    if adjustments:
        rows = [
            (
                a["action"],
                a["confidence"],
                a["control"],
                a["ttl_seconds"],
                a["execution_fingerprint"][:16],
                a["target_urn"],
            )
            for a in adjustments
        ]
        header = ("action", "confidence", "control", "ttl", "fingerprint", "target")
        lines.append(table(rows, header))
    for d in dropped:
        lines.append(f"dropped item {d['index']} ({d['check']}): {d['reason']}")
    emit(args, data, "\n".join(lines))
    return EXIT_REJECTED if dropped else EXIT_OK


def graph_push(args: argparse.Namespace) -> int:
    """Push the execution graph of FILE (one JSON object)."""
    document = _read_graph(args.file)
    with open_client(args) as client:
        envelope = client.push_execution_graph(document)
    data = {
        "accepted": envelope.success,
        "status_code": envelope.status_code,
        "request_id": envelope.request_id,
        "attempts": envelope.attempts,
    }
    emit(args, data, f"accepted (request {envelope.request_id})")
    return EXIT_OK if envelope.success else EXIT_REJECTED


def _read_graph(name: str) -> dict[str, Any]:
    if name == "-":
        raw = sys.stdin.buffer.read(_MAX_FILE_BYTES)
    else:
        with Path(name).open("rb") as handle:  # OSError: exit 2, as any unreadable file
            raw = handle.read(_MAX_FILE_BYTES)
    if len(raw) >= _MAX_FILE_BYTES:
        raise VectorVueSerializationError.single(
            "(file)", f"{name} is over 1 MiB, more than the gateway accepts"
        )
    try:
        document = json.loads(raw)
    except ValueError as exc:  # not UTF-8 is a ValueError too
        raise VectorVueSerializationError.single("(file)", f"{name} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise VectorVueSerializationError.single("(file)", f"{name} must hold one JSON object")
    return document
