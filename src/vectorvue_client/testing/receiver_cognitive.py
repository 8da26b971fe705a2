"""The gateway's cognitive loop as request -> reply logic, for LocalVectorVue.

POST /internal/v1/cognitive/execution-graph and POST /internal/v1/cognitive/feedback/
adjustments/query (design/vectorvue-contract.md, "Cognitive loop (gateway)", gateway commit
c175221). Bodies are checked by receiver_cognitive_schema.py, never by the client's models.
Both endpoints go through, in order, answering `{"detail": "..."}` unless it says "plain":

 1. 405  not a POST
 2. 401  the identity and X-Telemetry-* headers, the signature over f"{timestamp}.{nonce}."
         + the exact body, as for telemetry (TelemetryGateway.authenticate), but with no
         Content-Type, empty-body or size check inside the app
 3. 409  (timestamp, nonce) already used: ONE replay store with telemetry. Otherwise the
         pair is used up here, whatever happens next
 4. 500  plain: any body error (not UTF-8, not JSON, empty, unknown or missing key, wrong
         type, out of range): the gateway does not map its validation error to a 422
 5. 422  graph only: schema_version is not execution.graph.v1 while the gateway enforces
         schema versions (LocalVectorVue's gateway_schema_versions not empty)
 6. 403  the operator is not mapped to the tenant (the exact string)
 7. 429  graph only: more than `graph_limit_per_minute` graphs of this operator in the
         calendar minute (a counter of its own, not telemetry's); the query has no limit
 8. graph: 202 {"request_id", "status": "accepted", "data": {"graph_synced": true},
         "errors": []}, unsigned; the graph is stored in memory under its tenant string (the
         newest GRAPHS_PER_TENANT), no de-duplication.
    query: 500 plain when a graph in its window is poison (receiver_cognitive_schema.
         adjustment); else 200 with one adjustment per graph of the last `limit` of that
         tenant (oldest first), whichever operator posted them, signed with Ed25519 by the
         active kid over tenant|signed_at|nonce|feedback.response.v1|kid|canonical JSON of
         data. The body itself is NOT canonical: keys in model order, non-ASCII sent raw.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vectorvue_client.testing.receiver_cognitive_schema import (
    GRAPH_SCHEMA_VERSION,
    RESPONSE_SCHEMA_VERSION,
    ExecutionGraph,
    FeedbackQuery,
    PoisonError,
    adjustment,
)
from vectorvue_client.testing.receiver_gateway import MinuteLimit, TelemetryGateway
from vectorvue_client.testing.receiver_json import CrashError, NotJsonError, parse
from vectorvue_client.testing.receiver_reply import Reply, crash, detail, json_reply

GRAPH_PATH: Final = "/internal/v1/cognitive/execution-graph"
QUERY_PATH: Final = "/internal/v1/cognitive/feedback/adjustments/query"
GRAPHS_PER_TENANT: Final = 1000
SIGNATURE_ALGORITHM: Final = "Ed25519"
_RESPONSE_NONCE_BYTES: Final = 18  # 24 URL-safe base64 characters


class _BodyError(Exception):
    """Any body the gateway's validation refuses: its unmapped error is a plain 500."""


class CognitiveLoop:
    """The two cognitive endpoints' state (stored graphs, the graph counter) and rules;
    thread-safe. Who may call is `gateway`'s business (identities, signatures, the replay
    store and the operator -> tenant map are shared with telemetry).

    `feedback_keys` maps a kid to the Ed25519 private key it signs with; `feedback_kid` is
    the active one.
    """

    def __init__(
        self,
        *,
        gateway: TelemetryGateway,
        feedback_keys: Mapping[str, Ed25519PrivateKey],
        feedback_kid: str,
        graph_limit_per_minute: int,
        now: Callable[[], float],
    ) -> None:
        if feedback_kid not in feedback_keys:
            known = ", ".join(sorted(feedback_keys)) or "none"
            raise ValueError(f"feedback_kid {feedback_kid!r} is not in feedback_keys ({known})")
        self._gateway = gateway
        self._keys = dict(feedback_keys)
        self._kid = feedback_kid
        self._graph_limit = MinuteLimit(graph_limit_per_minute, now)
        self._now = now
        self._lock = threading.Lock()
        # tenant string -> (the graph as checked, the body as received), oldest first
        self._graphs: dict[str, deque[tuple[ExecutionGraph, bytes]]] = {}

    @property
    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        """kid -> public key of every feedback signing key (a client's keyring)."""
        return {kid: key.public_key() for kid, key in self._keys.items()}

    def stored_graphs(self, tenant_id: str) -> list[dict[str, Any]]:
        """The graph bodies stored for this tenant string, oldest first (copies)."""
        with self._lock:
            bodies = [body for _, body in self._graphs.get(tenant_id, ())]
        return [json.loads(body) for body in bodies]

    def clear(self) -> None:
        """Forget every stored graph and the graph counters."""
        with self._lock:
            self._graphs.clear()
        self._graph_limit.clear()

    def admit(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        client_cert: str | None,
    ) -> Reply | None:
        """Steps 1-3 (the same for both paths); None means the (timestamp, nonce) is now
        used up."""
        if method != "POST":
            return detail(405, "Method Not Allowed")
        return self._gateway.authenticate(headers, body, client_cert)

    def handle(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        client_cert: str | None,
    ) -> Reply:
        """The reply to one request to GRAPH_PATH or QUERY_PATH."""
        denied = self.admit(method, path, headers, body, client_cert)
        if denied is not None:
            return denied
        try:
            if path == GRAPH_PATH:
                return self._graph(body, _body(body, ExecutionGraph))
            return self._query(_body(body, FeedbackQuery))
        except (_BodyError, PoisonError):
            return crash(close=False)

    def _graph(self, body: bytes, graph: ExecutionGraph) -> Reply:
        if self._gateway.enforces_schema_version and graph.schema_version != GRAPH_SCHEMA_VERSION:
            return detail(422, f"Unsupported schema_version: expected {GRAPH_SCHEMA_VERSION}")
        denied = self._gateway.authorize(graph.operator_id, graph.tenant_id)
        if denied is not None:
            return denied
        if not self._graph_limit.admit(graph.operator_id):
            return detail(429, "Operator burst anomaly detected")
        with self._lock:
            stored = self._graphs.setdefault(graph.tenant_id, deque(maxlen=GRAPHS_PER_TENANT))
            stored.append((graph, body))
        answer = {
            "request_id": str(uuid.uuid4()),
            "status": "accepted",
            "data": {"graph_synced": True},
            "errors": [],
        }
        return json_reply(202, answer)

    def _query(self, query: FeedbackQuery) -> Reply:
        denied = self._gateway.authorize(query.operator_id, query.tenant_id)
        if denied is not None:
            return denied
        with self._lock:
            graphs = [graph for graph, _ in self._graphs.get(query.tenant_id, ())]
        queried_at = int(self._now())
        data = [adjustment(graph, queried_at) for graph in graphs[-query.limit :]]
        signed_at = int(self._now())
        nonce = secrets.token_urlsafe(_RESPONSE_NONCE_BYTES)
        # The contract's canonical form is Python's own json.dumps: the oracle uses it as is.
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        parts = (query.tenant_id, str(signed_at), nonce, RESPONSE_SCHEMA_VERSION, self._kid)
        signed = "|".join((*parts, canonical)).encode("utf-8")
        signature = base64.b64encode(self._keys[self._kid].sign(signed)).decode("ascii")
        answer = {
            "request_id": str(uuid.uuid4()),
            "status": "accepted",
            "data": data,
            "errors": [],
            "signature": signature,
            "kid": self._kid,
            "signature_algorithm": SIGNATURE_ALGORITHM,
            "signed_at": signed_at,
            "nonce": nonce,
            "schema_version": RESPONSE_SCHEMA_VERSION,
        }
        return json_reply(200, answer)  # msgspec: model order, non-ASCII raw


def _body[T](body: bytes, model: type[T]) -> T:
    try:
        return msgspec.convert(parse(body), model)
    except (CrashError, NotJsonError, msgspec.ValidationError):
        raise _BodyError from None
