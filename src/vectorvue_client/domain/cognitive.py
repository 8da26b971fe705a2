"""The request bodies of the gateway's cognitive loop (contract: "Cognitive loop (gateway)"):
an execution graph pushed, a feedback query.

Both bodies are closed, and the gateway answers ANY schema error with a plain 500 after it
has used up the attempt's nonce: so every field rule is checked here, before sending, and
equal to the gateway's (the Meta annotations below are the rules). One rule is the
client's own (the contract's "poison"): a `graph.target_urn` that is not a string of 1-512
characters is accepted by the gateway, and then makes every feedback query of the tenant
fail until the gateway restarts; it is refused here, naming the field.

Each attempt needs its own timestamp and nonce in the body (and in the signed headers):
the bodies are encoded once without them, and `GatewayBody.render` appends them per
attempt, as for telemetry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

import msgspec
from msgspec import Meta

from vectorvue_client.domain import models as m
from vectorvue_client.domain.encoding import encode
from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.domain.field_rules import Problems, struct_problems
from vectorvue_client.domain.gateway import GatewayBody

GRAPH_SCHEMA_VERSION: Final = "execution.graph.v1"
TARGET_URN_LEN: Final = (1, 512)
FEEDBACK_LIMIT: Final = (1, 1000)
DEFAULT_FEEDBACK_LIMIT: Final = 100

Operator = Annotated[
    str, Meta(min_length=m.GATEWAY_PARTY_LEN[0], max_length=m.GATEWAY_PARTY_LEN[1])
]
# 36 characters of hex digits and "-": the gateway checks no more (and matches the exact
# string: case matters).
Tenant = Annotated[str, Meta(pattern=r"^[0-9a-fA-F-]{36}\Z")]
GraphSchemaVersion = Annotated[str, Meta(min_length=1, max_length=32)]
Limit = Annotated[int, Meta(ge=FEEDBACK_LIMIT[0], le=FEEDBACK_LIMIT[1])]


class ExecutionGraph(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What `push_execution_graph` sends, all but the per-attempt `timestamp` and `nonce`
    (fields in wire order; `graph` is any JSON object: only its `target_urn` and `nodes`
    are read by the gateway)."""

    operator_id: Operator
    tenant_id: Tenant
    execution_fingerprint: m.Hex64
    schema_version: GraphSchemaVersion = GRAPH_SCHEMA_VERSION
    attestation_measurement_hash: m.Hex64
    graph: dict[str, Any]


class FeedbackQuery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What `query_feedback` sends, all but the per-attempt `timestamp` and `nonce`."""

    operator_id: Operator
    tenant_id: Tenant
    limit: Limit = DEFAULT_FEEDBACK_LIMIT


_PER_ATTEMPT: Final = ("timestamp", "nonce")


def execution_graph(document: Mapping[str, Any]) -> ExecutionGraph:
    """`document` read as an execution graph request: every rule checked, every broken one
    reported at once (VectorVueSerializationError naming each field)."""
    graph = _read(document, ExecutionGraph)
    if "target_urn" in graph.graph:
        urn = graph.graph["target_urn"]
        low, high = TARGET_URN_LEN
        if not isinstance(urn, str) or not low <= len(urn) <= high:
            got = f"{len(urn)} characters" if isinstance(urn, str) else type(urn).__name__
            raise VectorVueSerializationError.single(
                "graph.target_urn",
                f"must be a string of {low}-{high} characters (got {got}): the gateway "
                "accepts any other, and then fails every feedback query of the tenant "
                "(500) until it restarts; leave it out for urn:target:unknown",
            )
    return graph


def feedback_query(operator_id: str, tenant_id: str, limit: int) -> FeedbackQuery:
    """The feedback query's body, its rules checked."""
    return _read(
        {"operator_id": operator_id, "tenant_id": tenant_id, "limit": limit}, FeedbackQuery
    )


def body_of(request: ExecutionGraph | FeedbackQuery) -> GatewayBody:
    """The body encoded once; each attempt appends its own `timestamp` and `nonce`. Over
    1 MiB is refused (the gateway's nginx answers 413 beyond)."""
    fixed = encode(request)
    body = GatewayBody(head=fixed[:-1] + b',"timestamp":', middle=b',"nonce":', tail=b"}")
    if body.largest_size > m.MAX_BODY_BYTES:
        field = "graph" if isinstance(request, ExecutionGraph) else "(body)"
        raise VectorVueSerializationError.single(
            field,
            f"makes the body {body.largest_size:,} bytes, over the {m.MAX_BODY_BYTES:,} the "
            "gateway's proxy accepts",
        )
    return body


def _read[S: msgspec.Struct](document: Mapping[str, Any], shape: type[S]) -> S:
    problems = Problems()
    for key in _PER_ATTEMPT:
        if key in document:
            problems.add(
                key, "is set by the client on each attempt (fresh, and signed): leave it out"
            )
    rest = {k: v for k, v in document.items() if k not in _PER_ATTEMPT}
    try:
        converted = msgspec.convert(rest, shape)
    except msgspec.ValidationError as exc:
        struct_problems(rest, shape, problems)  # every problem, each named
        if not problems.found:  # a null where a default is allowed: msgspec's words
            rule, _, path = str(exc).partition(" - at `$.")
            problems.add(path.rstrip("`") or "(body)", rule)
    problems.raise_if_any()
    return converted
