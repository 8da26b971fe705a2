"""The cognitive loop on the telemetry gateway: execution graphs pushed, signed feedback
pulled back and trusted only once verified (domain.cognitive, domain.feedback; ADR 0033).

Both routes are signed like telemetry (mutual TLS identity, Ed25519 over a body that has a
fresh timestamp and nonce per attempt) and go through Delivery. What differs from
telemetry, and is decided here:
- a 500 is never retried: it is the gateway's answer to a schema error (after spending the
  nonce) or to a poisoned tenant, and no resend fixes either; a 409 (replay) is, afresh;
- graphs are paced per operator on a counter of their own (the gateway counts graphs apart
  from telemetry, 120 per calendar minute by default); the query is not limited;
- a 403 is the gateway's operator -> tenant map refusing the pair: said in those words.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Final

from vectorvue_client.config import VectorVueConfig
from vectorvue_client.domain.cognitive import (
    ExecutionGraph,
    FeedbackQuery,
    body_of,
    execution_graph,
    feedback_query,
)
from vectorvue_client.domain.envelope import ResponseEnvelope
from vectorvue_client.domain.errors import (
    VectorVueAPIError,
    VectorVueConfigError,
    VectorVueSerializationError,
)
from vectorvue_client.domain.feedback import (
    FeedbackVerificationError,
    Keyring,
    VerifiedFeedback,
    verify_feedback,
)
from vectorvue_client.domain.http import HttpResponse
from vectorvue_client.domain.retry import GATEWAY_RETRYABLE_STATUSES
from vectorvue_client.ports import Clock, NonceStore
from vectorvue_client.service.delivery import Delivery, Send

GRAPH_PATH: Final = "/internal/v1/cognitive/execution-graph"
FEEDBACK_PATH: Final = "/internal/v1/cognitive/feedback/adjustments/query"
RETRYABLE: Final = GATEWAY_RETRYABLE_STATUSES - {500}
# The graph route's burst counter is the gateway's own, apart from telemetry's: so is ours.
_GRAPH_PACE: Final = "execution-graph\x00"


class CognitiveLoop:
    """Pushes graphs and verifies feedback through `delivery`; the keyring and the nonce
    store are opened on first use (a client that never asks for feedback needs neither)."""

    def __init__(
        self,
        *,
        delivery: Delivery,
        config: VectorVueConfig,
        clock: Clock,
        keyring: Callable[[], Keyring] | None,
        nonces: Callable[[], NonceStore] | None,
    ) -> None:
        self._delivery = delivery
        self._config = config
        self._clock = clock
        self._keyring_opener = keyring
        self._nonces_opener = nonces
        self._nonces: NonceStore | None = None
        self._opening = threading.Lock()

    def graph(self, document: object) -> ExecutionGraph:
        """`document` as a checked request; operator, tenant and attestation hash default
        to the configured ones."""
        if isinstance(document, ExecutionGraph):
            return document
        if not isinstance(document, Mapping):
            raise VectorVueSerializationError.single("(graph)", "must be a JSON object")
        config = self._config
        defaults = {
            "operator_id": config.operator_id,
            "tenant_id": config.tenant_id,
            "attestation_measurement_hash": config.attestation_measurement_hash,
        }
        given = {**{k: v for k, v in defaults.items() if v is not None}, **document}
        return execution_graph(given)

    def push(
        self, request: ExecutionGraph, started: float, cancel: threading.Event
    ) -> ResponseEnvelope:
        """POST one graph, paced on its operator's graph budget."""
        body = body_of(request)
        key = _GRAPH_PACE + request.operator_id
        waited = self._delivery.pace(key, cancel) or 0.0
        send = Send(
            "push_execution_graph",
            GRAPH_PATH,
            b"",
            "",  # no idempotency header: each push is stored anew
            started + waited,
            template=body,
            pace_key=key,
            retryable_statuses=RETRYABLE,
        )
        try:
            return self._delivery.post(send, cancel)
        except VectorVueAPIError as exc:
            raise _named(exc, request.operator_id, request.tenant_id) from None

    def query_body(self, tenant_id: str, limit: int) -> FeedbackQuery:
        """The checked body of a feedback query, as the configured operator."""
        operator = self._config.operator_id
        if operator is None:
            raise VectorVueConfigError("operator_id", "is required to query feedback")
        return feedback_query(operator, tenant_id, limit)

    def query(
        self, query: FeedbackQuery, started: float, cancel: threading.Event
    ) -> VerifiedFeedback:
        """The verified adjustments of the query's tenant (its last `limit` graphs)."""
        keyring = self._keyring()
        nonces = self._nonce_store()
        operator, tenant_id = query.operator_id, query.tenant_id
        send = Send(
            "query_feedback",
            FEEDBACK_PATH,
            b"",
            "",
            started,
            template=body_of(query),
            retryable_statuses=RETRYABLE,
        )
        done = self._delivery.exchange(send, cancel)
        result = done.result
        if not (isinstance(result, HttpResponse) and 200 <= result.status < 300):
            try:
                self._delivery.conclude(send, done)  # raises, audited
            except VectorVueAPIError as exc:
                raise _named(exc, operator, tenant_id) from None
            raise AssertionError("conclude returned for a failure")  # pragma: no cover
        now = self._clock.time()
        try:
            verified = verify_feedback(
                result.status,
                result.body,
                tenant_id=tenant_id,
                keyring=keyring,
                now=now,
                window=self._config.feedback_freshness_seconds,
                seen=lambda nonce: nonces.seen(nonce, now),
                remember=lambda nonce, until: nonces.remember(nonce, now, until),
            )
        except FeedbackVerificationError as exc:
            self._delivery.record(
                send, "rejected", attempts=done.attempts, status_code=result.status, error=str(exc)
            )
            raise
        self._delivery.record(
            send,
            "success",
            attempts=done.attempts,
            status_code=result.status,
            request_id=verified.request_id,
        )
        return verified

    def close(self) -> None:
        """Close the nonce store, if it was opened."""
        with self._opening:
            if self._nonces is not None:
                self._nonces.close()
                self._nonces = None

    def _keyring(self) -> Keyring:
        if self._keyring_opener is None:
            raise VectorVueConfigError(
                "feedback_keyring_file",
                "is required to verify feedback: kid -> the gateway's Ed25519 public key",
            )
        return self._keyring_opener()

    def _nonce_store(self) -> NonceStore:
        with self._opening:
            if self._nonces is None:
                if self._nonces_opener is None:
                    raise VectorVueConfigError(
                        "feedback_nonce_file", "no nonce store was given to remember answers"
                    )
                self._nonces = self._nonces_opener()
            return self._nonces


def _named(exc: VectorVueAPIError, operator: str, tenant: str) -> VectorVueAPIError:
    """A 403 said as what it is: the gateway's operator -> tenant map refuses the pair."""
    if exc.status_code != 403:
        return exc
    return VectorVueAPIError(
        status_code=403,
        error_code="operator_tenant_mapping",
        message=(
            f"the gateway does not map operator {operator!r} to tenant {tenant!r} "
            f"(its operator -> tenant map: {exc.envelope.error if exc.envelope else exc})"
        ),
        request_id=exc.request_id,
        retry_after=exc.retry_after,
        envelope=exc.envelope,
    )
