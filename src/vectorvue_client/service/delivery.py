"""The attempt loop of the application service: one logical send, from encoded bytes to an
envelope and an audit record.

This is the only code that sleeps (through the Clock port) and calls the transport,
credential and signer ports, always in this order: credentials -> signature over exactly
the encoded bytes -> transport -> retry decision -> envelope -> audit record. Each decision
is the domain's; this module only carries them out. Every send has a cancel token of its
own (a threading.Event): once it is set, a backoff in progress ends at once and no other
attempt starts.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec

from vectorvue_client import call_deadline
from vectorvue_client.config import VectorVueConfig
from vectorvue_client.domain.audit import AttemptSummary, AuditRecord
from vectorvue_client.domain.envelope import ResponseEnvelope, api_error, map_response
from vectorvue_client.domain.envelope_signature import (
    NOT_CHECKED,
    VERIFIED,
    SignatureCheck,
    VectorVueSignatureError,
    check_envelope,
    signed_path,
    token_tenant,
)
from vectorvue_client.domain.errors import (
    TransportErrorKind,
    VectorVueConfigError,
    VectorVueTransportError,
)
from vectorvue_client.domain.gateway import GatewayBody
from vectorvue_client.domain.http import (
    HttpRequest,
    HttpResponse,
    HttpResult,
    Timeouts,
    TransportFailure,
)
from vectorvue_client.domain.pacing import SlidingWindowLimiter
from vectorvue_client.domain.redaction import Secret, scrub
from vectorvue_client.domain.retry import (
    GATEWAY_RETRYABLE_STATUSES,
    RETRYABLE_STATUSES,
    Retry,
    RetryPolicy,
    decide,
    parse_retry_after,
    should_reauthenticate,
)
from vectorvue_client.domain.timestamps import to_rfc3339
from vectorvue_client.ports import (
    AuditSink,
    Clock,
    CredentialSource,
    Entropy,
    ProducerSigner,
    SelectiveAuditSink,
    Signer,
    Transport,
)
from vectorvue_client.version import USER_AGENT

BASE_HEADERS = (("Accept", "application/json"), ("User-Agent", USER_AGENT))


type WaitReason = Literal["rate_limit", "retry"]


class SendObserver:
    """What a long send reports as it goes (VectorVueClient.send_outputs(observer=...)), for
    a progress display: override the methods you need. They are called on the sending
    thread, between attempts (never inside one), and must return quickly."""

    def request_started(self, items: int) -> None:
        """A request carrying `items` items is about to be sent (its first attempt)."""

    def request_done(self, envelope: ResponseEnvelope) -> None:
        """A request ended with VectorVue's answer on its items: `envelope.items` are their
        outcomes, `envelope.request_id` VectorVue's id of the request. A request that ends
        in an exception reports nothing: VectorVue unreachable, an error answer (a 422, a
        429 that outlasts the retries), the call cancelled."""

    def waiting(self, seconds: float, reason: WaitReason) -> None:
        """The send is about to wait `seconds`: "rate_limit" for the gateway's per-operator
        budget, "retry" before the next attempt of a request that failed."""


NO_OBSERVER: Final = SendObserver()


class Send(msgspec.Struct, frozen=True):
    """One logical send: the bytes, their idempotency key, and how to report the outcome.

    `started` is the monotonic time the deadline counts from. A gateway send carries
    `template` instead of fixed bytes (each attempt has its own timestamp and nonce in the
    body) and `pace_key`, the operator whose per-minute budget it spends.
    """

    operation: str
    path: str
    body: bytes
    key: str
    started: float
    item_ids: Sequence[str] = ()
    indices: Sequence[int] = ()
    items: int = 1
    template: GatewayBody | None = None
    pace_key: str | None = None
    pace_limit: int | None = None  # the budget of pace_key per minute; default the gateway's
    method: str = "POST"
    deadline: float | None = None  # seconds from `started`; default: deadline_seconds
    authenticated: bool = True  # False: no credential is fetched or sent (a health probe)
    once: bool = False  # one attempt whatever the answer (a health probe reports, never retries)
    # The statuses worth another attempt, when not the profile's (the cognitive loop's
    # routes answer a schema error with a 500 that no resend can fix).
    retryable_statuses: frozenset[int] | None = None
    identity_only: bool = False  # a gateway POST with identity headers, no X-Telemetry-* ones


@dataclass(frozen=True, slots=True)
class Exchange:
    """What the attempts of one send came to: the last result, the audit trail of every
    attempt, the credentials sent (masked from every text kept), and the last answer's
    Retry-After in seconds (parsed once, when the answer arrived)."""

    result: HttpResult
    attempts: tuple[AttemptSummary, ...]
    tokens: tuple[Secret, ...]
    retry_after: float | None


class Delivery:
    """Carries out sends with the ports it was given."""

    def __init__(
        self,
        *,
        config: VectorVueConfig,
        transport: Transport,
        credentials: CredentialSource,
        signer: Signer,
        audit: AuditSink,
        clock: Clock,
        entropy: Entropy,
        compliance_key: CredentialSource | None = None,
    ) -> None:
        self._config = config
        self._transport = transport
        # The integration API's answer signatures (ADR 0034): checked with this secret when
        # given; with "enforce", an answer that does not verify is an error.
        self._compliance_key = compliance_key
        self._enforce_signatures = config.compliance_signatures == "enforce"
        self._clock = clock
        self._credentials = credentials
        self._signer = signer
        self._audit = audit
        # Asked before each record is built: most embedders log below INFO, and a success
        # record nobody keeps is a tenth of a send's own work.
        self._keeps = audit.keeps if isinstance(audit, SelectiveAuditSink) else None
        self._entropy = entropy
        self._gateway = config.profile == "telemetry-gateway"
        self._policy = RetryPolicy(
            max_retries=config.max_retries,
            base_delay=config.backoff_base_seconds,
            max_delay=config.backoff_max_seconds,
            retryable_statuses=GATEWAY_RETRYABLE_STATUSES if self._gateway else RETRYABLE_STATUSES,
        )
        self._limiters: dict[str, SlidingWindowLimiter] = {}
        self._pacing = threading.Lock()

    def post(
        self, send: Send, cancel: threading.Event, observer: SendObserver = NO_OBSERVER
    ) -> ResponseEnvelope:
        """Send (a POST, or a GET for queries) until the retry policy stops or `cancel` is
        set; the envelope of a 2xx, else raise VectorVueAPIError or
        VectorVueTransportError. Audited either way; `observer` is told of every wait."""
        done = self.exchange(send, cancel, observer)
        return self.conclude(send, done)

    def exchange(
        self, send: Send, cancel: threading.Event, observer: SendObserver = NO_OBSERVER
    ) -> Exchange:
        """The attempts of `send`, until the retry policy stops or `cancel` is set (a
        backoff in progress then ends at once, and the last answer stands). Raises only
        VectorVueConfigError (a credential that cannot be had), audited.

        Ends within the send's deadline (counted from `send.started`) plus the time a
        retry of a gateway send waits for its operator's budget, which never makes it
        start past the deadline."""
        deadline = self._deadline(send)
        attempts: list[AttemptSummary] = []
        tokens: list[Secret] = []
        refused: Secret | None = None  # a credential VectorVue answered 401 to
        retry_after: float | None = None
        result: HttpResult
        while True:
            remaining = deadline - (self._clock.monotonic() - send.started)
            if send.pace_key is not None and attempts and remaining > 0:
                # A retry spends the operator's budget too; the first attempt was paced by
                # the caller before this send's deadline started (see pace()).
                waited = self.pace(
                    send.pace_key, cancel, remaining, observer, limit=send.pace_limit
                )
                if waited is None:  # no room before the deadline: the last answer stands
                    break
                remaining -= waited
            if remaining <= 0:
                result = TransportFailure(
                    TransportErrorKind.DEADLINE,
                    f"deadline of {deadline}s spent before attempt {len(attempts) + 1}",
                )
                break
            try:
                attempted = self._attempt(send, remaining, tokens, refused)
            except VectorVueConfigError as exc:
                self.record(send, "invalid", attempts=tuple(attempts), error=str(exc))
                raise
            if attempted is None:
                # The credential is the one VectorVue just refused: resending it unchanged
                # would only be refused again (a static key that was not rotated).
                break
            result = attempted
            succeeded = isinstance(result, HttpResponse) and 200 <= result.status < 300
            retry_after = None
            if isinstance(result, HttpResponse) and not succeeded:
                retry_after = parse_retry_after(result.header("retry-after"), self._clock.time())
                if (
                    send.authenticated
                    and not self._gateway
                    and refused is None
                    and should_reauthenticate(result)
                ):
                    # The credential may have expired or been rotated: fetch it anew and
                    # try once more, if it changed. Only once: a second 401 is final.
                    refused = tokens[-1] if tokens else None
                    self._credentials.invalidate()
                    attempts.append(summary(result, 0.0))
                    continue
            if send.once:
                attempts.append(summary(result, None))
                break
            decision = decide(
                self._policy
                if send.retryable_statuses is None
                else dataclasses.replace(self._policy, retryable_statuses=send.retryable_statuses),
                attempt=len(attempts) + 1,
                outcome=result,
                elapsed=self._clock.monotonic() - send.started,
                deadline=deadline,
                # A 2xx is never retried: no jitter is drawn for it.
                jitter=0.0 if succeeded else self._entropy.random(),
                retry_after=retry_after,
            )
            delay = decision.delay if isinstance(decision, Retry) else None
            attempts.append(summary(result, delay))
            if delay is None or cancel.is_set():
                break
            observer.waiting(delay, "retry")
            self._clock.sleep(delay, cancel)
            if cancel.is_set():
                break
        return Exchange(result, tuple(attempts), tuple(tokens), retry_after)

    def _attempt(
        self, send: Send, remaining: float, tokens: list[Secret], refused: Secret | None
    ) -> HttpResult | None:
        """One attempt: fresh credentials, timestamp, nonce and signature over exactly the
        bytes sent (the idempotency key stays the send's). None, without sending, when the
        credential is still `refused`."""
        post = send.method == "POST"
        headers: list[tuple[str, str]] = [*BASE_HEADERS]
        if post:
            headers.append(("Content-Type", "application/json"))
        if post and not self._gateway:
            headers.append(("Idempotency-Key", send.key))
        # The gateway authenticates by mTLS and signature alone.
        if send.authenticated and not self._gateway:
            try:
                with call_deadline.within(remaining):  # a login ends by this deadline
                    token = self._credentials.get()
            except VectorVueTransportError as exc:  # a login that could not reach VectorVue
                return TransportFailure(exc.kind, exc.detail)
            if refused is not None and token == refused:  # compared in constant time
                return None
            tokens.append(token)
            headers.append(("Authorization", f"Bearer {token.reveal()}"))
            # A login may have used part of the time left.
            remaining = send.started + self._deadline(send) - self._clock.monotonic()
            if remaining <= 0:
                return TransportFailure(
                    TransportErrorKind.DEADLINE, "the deadline was spent fetching credentials"
                )
        body = send.body
        if post and send.identity_only:
            headers.extend(self.producer().identity())
        elif post:  # VectorVue verifies signatures on POSTs only
            timestamp, nonce = int(self._clock.time()), self._entropy.nonce()
            if send.template is not None:
                body = send.template.render(timestamp, nonce)
            headers.extend(self._signer.sign(body, timestamp=timestamp, nonce=nonce))
        request = HttpRequest(send.method, send.path, tuple(headers), body)
        return self._transport.send(request, self._timeouts(remaining))

    def _timeouts(self, remaining: float) -> Timeouts:
        """The timeouts of an attempt with `remaining` seconds left of its deadline: the
        configured read timeout for each read, the connect timeout cut to what is left, and
        what is left as the wall-clock bound of the whole exchange, whatever the server
        does (a server that trickles its answer a byte at a time included)."""
        connect = self._config.connect_timeout_seconds or self._config.timeout_seconds
        return Timeouts(
            connect=min(connect, remaining),
            read=min(self._config.timeout_seconds, remaining),
            total=remaining,
        )

    def _deadline(self, send: Send) -> float:
        return send.deadline if send.deadline is not None else self._config.deadline_seconds

    def pace(
        self,
        key: str,
        cancel: threading.Event,
        at_most: float | None = None,
        observer: SendObserver = NO_OBSERVER,
        *,
        limit: int | None = None,
    ) -> float | None:
        """Wait until `key`'s per-minute budget has room (or `cancel` is set), and count one
        request; returns how long it waited. When that wait would be longer than `at_most`
        seconds, it waits nothing, counts nothing and returns None. Every attempt counts:
        the gateway counts them all. A wait before a send's first attempt is not part of
        its deadline (the budget, not VectorVue, is what it waits for). `limit` is the
        budget per minute (default: gateway_rate_per_minute)."""
        with self._pacing:
            limiter = self._limiters.get(key)
            if limiter is None:
                per_minute = self._config.gateway_rate_per_minute if limit is None else limit
                limiter = SlidingWindowLimiter(per_minute, 60.0)
                self._limiters[key] = limiter
            wait = limiter.delay(self._clock.monotonic())
            if at_most is not None and wait > at_most:
                return None
            if wait > 0:
                observer.waiting(wait, "rate_limit")
                self._clock.sleep(wait, cancel)
            limiter.record(self._clock.monotonic())
        return wait

    def producer(self) -> ProducerSigner:
        """The gateway producer's signer (its identity and key), for what is signed outside
        a request's headers; VectorVueConfigError when the configured signer is not one."""
        if not isinstance(self._signer, ProducerSigner):
            raise VectorVueConfigError(
                "profile", "needs the telemetry gateway's producer identity and Ed25519 key"
            )
        return self._signer

    def token(self, within: float) -> Secret:
        """The bearer token the next attempt would send (fetched or logged in within
        `within` seconds): what a per-user budget is keyed by."""
        with call_deadline.within(within):
            return self._credentials.get()

    def close(self) -> None:
        """Release the transport; later sends are an error."""
        self._transport.close()

    def conclude(self, send: Send, done: Exchange) -> ResponseEnvelope:
        """The envelope of a 2xx, else raise VectorVueAPIError or VectorVueTransportError;
        audited either way (`post` is `exchange` then this)."""
        result, attempts, tokens = done.result, done.attempts, done.tokens
        if isinstance(result, TransportFailure):
            detail = scrub(result.detail, tokens)
            error = f"{result.kind.value}: {detail}"
            self.record(send, "transport_error", attempts=attempts, error=error)
            raise VectorVueTransportError(result.kind, detail, attempts=len(attempts) or 1)
        verify = self._verifier(send, tokens)
        envelope = map_response(
            result,
            attempts=len(attempts),
            idempotency_key=send.key,
            item_ids=send.item_ids,
            item_indices=send.indices or None,
            secrets=tokens,
            verify=verify,
        )
        ok = 200 <= result.status < 300
        outcome = "success" if envelope.success else ("rejected" if ok else "api_error")
        noted = envelope.error
        unverified = ok and verify is not None and envelope.signature_status != VERIFIED
        refused = unverified and self._enforce_signatures
        if unverified:
            # In the audit trail either way: a bad signature on an answer is worth knowing
            # even when the caller chose not to enforce it.
            signature = f"signature {envelope.signature_status}: {envelope.signature_problem}"
            noted = signature if noted is None else f"{noted}; {signature}"
            outcome = "rejected" if refused else outcome
        self.record(
            send,
            outcome,
            attempts=attempts,
            status_code=result.status,
            error=noted,
            request_id=envelope.request_id,
        )
        if not ok:
            raise api_error(envelope, done.retry_after)
        if refused:
            check = SignatureCheck(envelope.signature_status, envelope.signature_problem)
            raise VectorVueSignatureError(check, envelope)
        return envelope

    def _verifier(
        self, send: Send, tokens: tuple[Secret, ...]
    ) -> Callable[[Any], SignatureCheck] | None:
        """How to check the answer to `send`: None when nothing is to be checked (no
        compliance secret, the gateway, a route VectorVue does not sign)."""
        if self._compliance_key is None or self._gateway:
            return None
        path = signed_path(send.path)
        if path is None:
            return None
        try:
            secret = self._compliance_key.get()
        except VectorVueConfigError as exc:  # the variable was unset after the client was built
            failed = SignatureCheck(NOT_CHECKED, str(exc))
            return lambda _body: failed
        # The tenant VectorVue signed for is the one of the token this attempt sent.
        tenant = token_tenant(tokens[-1].reveal()) if tokens else None
        return lambda body: check_envelope(body, path=path, tenant=tenant, secret=secret)

    def _sink_keeps(self, outcome: str) -> bool:
        # A sink must not raise (the port says so); one whose `keeps` does anyway is given
        # the record rather than breaking a send that has already been delivered.
        assert self._keeps is not None
        try:
            return bool(self._keeps(outcome))
        except Exception:  # noqa: BLE001 - any failure of a sink's answer means "give it"
            return True

    def record(
        self,
        send: Send,
        outcome: str,
        *,
        attempts: tuple[AttemptSummary, ...] = (),
        status_code: int | None = None,
        error: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """Hand one audit record of `send` to the sink (unless it says it would drop it)."""
        if self._keeps is not None and not self._sink_keeps(outcome):
            return
        self._audit.record(
            AuditRecord(
                time=to_rfc3339(self._clock.time(), "time"),
                action=send.operation,
                method=send.method,
                endpoint=send.path,
                outcome=outcome,
                status_code=status_code,
                attempts=len(attempts),
                attempt_log=attempts,
                duration_seconds=max(0.0, self._clock.monotonic() - send.started),
                item_count=send.items,
                idempotency_key=send.key or None,
                request_id=request_id,
                error=error,
            )
        )


def summary(result: HttpResult, delay: float | None) -> AttemptSummary:
    """The audit trail's view of one attempt."""
    if isinstance(result, HttpResponse):
        return AttemptSummary(status_code=result.status, failure=None, retry_after_seconds=delay)
    return AttemptSummary(status_code=None, failure=result.kind.value, retry_after_seconds=delay)
