"""The cognitive loop's request bodies and feedback adjustments (VectorVue gateway commit
c175221), for LocalVectorVue.

Written from design/vectorvue-contract.md ("Cognitive loop (gateway)"), never from the
client's models: this is the oracle the client's own rules are tested against.

- Both bodies are closed (an unknown key fails), lengths in code points, `tenant_id` is 36
  hex digits and dashes (kept as the exact string: case matters), the hashes are 64 hex of
  either case, `timestamp` an integer, `nonce` 8-128; the graph's `graph` is any object (no
  size, depth or SQL check); the query's `limit` is 1-1000, 100 when absent. The gateway
  answers any failure of these with a plain 500, not a 422.
- An adjustment is made from one stored graph at query time (`adjustment`): only the
  graph's `target_urn` (str() of it, `urn:target:unknown` when absent) and `nodes` (a list
  of 8 or more entries: "tighten") are read. A target_urn that converts to "" or to more
  than 512 characters cannot be turned into one (PoisonError: the query's 500).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec
from msgspec import Meta

GRAPH_SCHEMA_VERSION: Final = "execution.graph.v1"
ADJUSTMENT_SCHEMA_VERSION: Final = "feedback.adjustment.v1"
RESPONSE_SCHEMA_VERSION: Final = "feedback.response.v1"
UNKNOWN_TARGET: Final = "urn:target:unknown"
TARGET_URN_MAX: Final = 512
TIGHTEN_NODES: Final = 8  # a graph.nodes list this long or longer tightens
ADJUSTMENT_TTL_SECONDS: Final = 1800
# The contract says "a fixed sentence per action" without quoting them: these are ours.
RATIONALE: Final = {
    "tighten": "Execution graph is large: tighten execution controls for this target.",
    "observe": "Execution graph is small: keep observing this target.",
}
CONFIDENCE: Final = {"tighten": 0.82, "observe": 0.55}

_Operator = Annotated[str, Meta(min_length=1, max_length=128)]
_Tenant = Annotated[str, Meta(pattern=r"\A[0-9A-Fa-f-]{36}\Z")]
_Hex64 = Annotated[str, Meta(pattern=r"\A[0-9A-Fa-f]{64}\Z")]
_Nonce = Annotated[str, Meta(min_length=8, max_length=128)]


class ExecutionGraph(msgspec.Struct, forbid_unknown_fields=True):
    """POST /internal/v1/cognitive/execution-graph."""

    operator_id: _Operator
    tenant_id: _Tenant
    execution_fingerprint: _Hex64
    timestamp: int
    nonce: _Nonce
    schema_version: Annotated[str, Meta(min_length=1, max_length=32)]
    attestation_measurement_hash: _Hex64
    graph: dict[str, Any]


class FeedbackQuery(msgspec.Struct, forbid_unknown_fields=True):
    """POST /internal/v1/cognitive/feedback/adjustments/query."""

    operator_id: _Operator
    tenant_id: _Tenant
    timestamp: int
    nonce: _Nonce
    limit: Annotated[int, Meta(ge=1, le=1000)] = 100


class PoisonError(ValueError):
    """A stored graph that cannot be turned into an adjustment (the query's plain 500)."""


def adjustment(graph: ExecutionGraph, queried_at: int) -> dict[str, Any]:
    """The adjustment the gateway makes of one stored graph, its keys in the server's model
    order; PoisonError for a graph whose target_urn converts to "" or over 512 characters."""
    target = str(graph.graph.get("target_urn", UNKNOWN_TARGET))
    if not 1 <= len(target) <= TARGET_URN_MAX:
        raise PoisonError(f"target_urn converts to {len(target)} characters, not 1-512")
    nodes = graph.graph.get("nodes")
    action = "tighten" if isinstance(nodes, list) and len(nodes) >= TIGHTEN_NODES else "observe"
    return {
        "tenant_id": graph.tenant_id,
        "execution_fingerprint": graph.execution_fingerprint.lower(),
        "target_urn": target,
        "action": action,
        "confidence": CONFIDENCE[action],
        "rationale": RATIONALE[action],
        "control": "execution",
        "ttl_seconds": ADJUSTMENT_TTL_SECONDS,
        "timestamp": queried_at,
        "schema_version": ADJUSTMENT_SCHEMA_VERSION,
        "attestation_measurement_hash": graph.attestation_measurement_hash.lower(),
    }
