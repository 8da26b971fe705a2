"""Fault injection for LocalVectorVue: what the next requests get instead of a normal answer.

Faults wait in one FIFO queue and each is used up by one request. A fault never applies to
GET /healthz unless it was queued with `include_health=True`, so a health probe in a test
does not eat the failure meant for the request under test, nor to a request refused before
its body is read (413, 411). FaultInjector holds the methods LocalVectorVue offers to queue
them.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

HEALTH_PATH = "/healthz"

type Framing = Literal["length", "chunked", "endless"]


class Responder(Protocol):
    """The connection of the request a fault applies to."""

    def respond(
        self,
        status: int,
        body: bytes,
        headers: Mapping[str, str],
        *,
        close: bool = False,
        announce_close: bool = False,
        late_close: bool = False,
        framing: Framing = "length",
    ) -> None:
        """Answer with a response framed by Content-Length, by chunked transfer coding, or
        "endless" (chunked, the last chunk never sent); then close the connection if
        `close`, saying so in a `Connection: close` header only if `announce_close`, and
        only once the client's next request has arrived on it if `late_close`."""
        ...

    def reset(self) -> None:
        """Drop the connection with a TCP reset, without answering."""
        ...


@dataclass(frozen=True, slots=True)
class Respond:
    """Answer with this response instead of the real one."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    close: bool = False
    announce_close: bool = False
    late_close: bool = False
    framing: Framing = "length"

    def apply(self, responder: Responder, stopping: threading.Event) -> bool:
        """Answer; the request is then done."""
        responder.respond(
            self.status,
            self.body,
            self.headers,
            close=self.close,
            announce_close=self.announce_close,
            late_close=self.late_close,
            framing=self.framing,
        )
        return True


@dataclass(frozen=True, slots=True)
class Reset:
    """Close the connection with a reset instead of answering."""

    def apply(self, responder: Responder, stopping: threading.Event) -> bool:
        """Reset; the request is then done."""
        responder.reset()
        return True


@dataclass(frozen=True, slots=True)
class Stall:
    """Wait before handling the request normally (the request IS processed afterwards,
    as a real server would, even if the client has given up by then)."""

    seconds: float

    def apply(self, responder: Responder, stopping: threading.Event) -> bool:
        """Wait (cut short when the server stops); the request still needs an answer."""
        stopping.wait(self.seconds)
        return False


@dataclass(frozen=True, slots=True)
class Hang:
    """Wait, then drop the connection without processing the request: a server that hung.
    The client's read timeout fires first, and the request left no trace on the server."""

    seconds: float

    def apply(self, responder: Responder, stopping: threading.Event) -> bool:
        """Wait (cut short when the server stops), then reset; the request is done."""
        stopping.wait(self.seconds)
        responder.reset()
        return True


@dataclass(frozen=True, slots=True)
class LoseReply:
    """Process the request normally, then drop the connection with a reset instead of
    answering: the server has the data, the client never learns it (a reply lost on the
    way, or a client that timed out just before it came)."""

    def apply(self, responder: Responder, stopping: threading.Event) -> bool:
        """Nothing before processing: the receiver drops the reply afterwards."""
        return False


type Fault = Respond | Reset | Stall | Hang | LoseReply


@dataclass(frozen=True, slots=True)
class Chaos:
    """Random faults for the requests no queued fault claims: each request draws once from
    a seeded generator (reproducible) and gets 503 with probability `unavailable`, 429 with
    Retry-After `retry_after` with `rate_limited`, a reset with `reset`, a hang of
    `hang_seconds` then a reset with `hang`, and with `lost_reply` it is processed but its
    answer is lost (LoseReply); otherwise it is handled normally, after `latency` seconds.
    Every fault but the lost reply comes before processing, so a refused request leaves
    no trace."""

    unavailable: float = 0.0
    rate_limited: float = 0.0
    retry_after: int = 1
    reset: float = 0.0
    hang: float = 0.0
    hang_seconds: float = 1.0
    lost_reply: float = 0.0
    latency: float = 0.0  # seconds every other request waits before it is handled

    def pick(self, draw: float) -> Fault | None:
        """The fault for a uniform `draw` in [0, 1), or None."""
        edges = (
            (self.unavailable, Respond(503, b'{"detail":"Service Unavailable"}', _JSON)),
            (
                self.rate_limited,
                Respond(
                    429,
                    b'{"detail":"Rate limit exceeded"}',
                    {**_JSON, "Retry-After": str(self.retry_after)},
                ),
            ),
            (self.reset, Reset()),
            (self.hang, Hang(self.hang_seconds)),
            (self.lost_reply, LoseReply()),
        )
        for probability, fault in edges:
            if draw < probability:
                return fault
            draw -= probability
        return Stall(self.latency) if self.latency > 0 else None


_JSON: dict[str, str] = {"Content-Type": "application/json"}


def plain_text(status: int, text: str, *, late_close: bool = False) -> Respond:
    """A plain-text answer after which the connection is closed without warning, as the
    real server does after a 500. On loopback the client usually sees the close before it
    reuses the connection; `late_close` waits for its next request on that connection and
    then closes, so that request fails, as it does over a real network."""
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    return Respond(status, text.encode(), headers, close=True, late_close=late_close)


def redirect(location: str, status: int = 307) -> Respond:
    """A redirect to `location`, with an empty body."""
    return Respond(status, b"", {"Location": location})


def huge_body(size: int, status: int = 202, *, framing: Framing = "length") -> Respond:
    """A JSON answer whose body is `size` bytes long (one long JSON string). With
    "chunked" framing its size is known only by reading it; with "endless" the server then
    waits, so only a client that stops reading at its cap gets an outcome before its
    read timeout."""
    body = b'"' + b"x" * (size - 2) + b'"' if size >= 2 else b"x" * size
    return Respond(status, body, {"Content-Type": "application/json"}, framing=framing)


def non_json(status: int = 202) -> Respond:
    """An HTML page, as a proxy or a captive portal in front of VectorVue would send."""
    body = b"<html><body><h1>Service Unavailable</h1>proxy says hello</body></html>"
    return Respond(status, body, {"Content-Type": "text/html"})


class FaultQueue:
    """Thread-safe FIFO of faults, each used up by one request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[tuple[Fault, bool]] = deque()
        self._chaos: Chaos | None = None
        self._random = random.Random(0)  # noqa: S311 - reproducible faults, not secrets
        self.chaos_counts: dict[str, int] = {}

    def set_chaos(self, chaos: Chaos | None, seed: int) -> None:
        """Random faults for requests no queued fault claims (None: none)."""
        with self._lock:
            self._chaos = chaos
            self._random = random.Random(seed)  # noqa: S311 - reproducible on purpose
            self.chaos_counts = {}

    def add(self, n: int, fault: Fault, *, include_health: bool = False) -> None:
        """Queue `fault` for the next `n` requests."""
        if n < 0:
            raise ValueError("n must not be negative")
        with self._lock:
            self._queue.extend([(fault, include_health)] * n)

    def take(self, path: str) -> Fault | None:
        """The fault for a request to `path` (without query), used up; None if none applies."""
        with self._lock:
            if not self._queue:
                return self._chaotic(path)
            fault, include_health = self._queue[0]
            if path == HEALTH_PATH and not include_health:
                return None
            self._queue.popleft()
            return fault

    def _chaotic(self, path: str) -> Fault | None:
        if self._chaos is None or path == HEALTH_PATH:
            return None
        fault = self._chaos.pick(self._random.random())
        if fault is not None and not isinstance(fault, Stall):
            name = type(fault).__name__ if not isinstance(fault, Respond) else str(fault.status)
            self.chaos_counts[name] = self.chaos_counts.get(name, 0) + 1
        return fault

    def clear(self) -> None:
        """Forget every pending fault, and stop any chaos."""
        with self._lock:
            self._queue.clear()
            self._chaos = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)


class FaultInjector:
    """Methods that queue faults on `self.faults`; each fault is used up by one request."""

    faults: FaultQueue

    def fail_next(
        self,
        n: int,
        status: int,
        body: bytes = b'{"detail":"Injected failure"}',
        headers: Mapping[str, str] | None = None,
        content_type: str | None = "application/json",
        *,
        retry_after: int | str | None = None,
        include_health: bool = False,
    ) -> None:
        """Answer the next `n` requests with this response (keep-alive continues).

        `retry_after` adds a Retry-After header: seconds (an int), or a str sent verbatim
        (an HTTP date, or something malformed on purpose). On the telemetry gateway's
        signed paths (telemetry and the cognitive loop) the answer comes after the
        gateway's header checks and replay store, as its real 503 does: the request's
        (timestamp, nonce) is used up, and a request those checks refuse (401, 409, ...)
        gets their answer instead.
        """
        all_headers = dict(headers or {})
        if content_type is not None and not any(k.lower() == "content-type" for k in all_headers):
            all_headers["Content-Type"] = content_type
        if retry_after is not None:
            all_headers["Retry-After"] = str(retry_after)
        fault = Respond(status, body, all_headers)
        self.faults.add(n, fault, include_health=include_health)

    def fail_next_text(
        self,
        n: int,
        status: int = 500,
        text: str = "Internal Server Error",
        *,
        late_close: bool = False,
        include_health: bool = False,
    ) -> None:
        """Answer plain text, then close the connection unannounced (the real 500);
        `late_close`: close it only when the client's next request arrives on it, so that
        request fails, as the contract describes (see receiver_faults.plain_text)."""
        fault = plain_text(status, text, late_close=late_close)
        self.faults.add(n, fault, include_health=include_health)

    def reset_next(self, n: int, *, include_health: bool = False) -> None:
        """Drop the connection with a TCP reset instead of answering."""
        self.faults.add(n, Reset(), include_health=include_health)

    def stall_next(self, n: int, seconds: float, *, include_health: bool = False) -> None:
        """Wait `seconds`, then process and answer the request normally."""
        self.faults.add(n, Stall(seconds), include_health=include_health)

    def lose_reply_next(self, n: int) -> None:
        """Process the next `n` requests, then drop each one's answer (see LoseReply)."""
        self.faults.add(n, LoseReply())

    def redirect_next(
        self, n: int, location: str, status: int = 307, *, include_health: bool = False
    ) -> None:
        """Answer a redirect to `location`."""
        self.faults.add(n, redirect(location, status), include_health=include_health)

    def huge_body_next(
        self,
        n: int,
        size: int,
        status: int = 202,
        *,
        framing: Framing = "length",
        include_health: bool = False,
    ) -> None:
        """Answer a JSON body of `size` bytes, framed by Content-Length, "chunked", or
        "endless" (chunked and never finished: the server waits for the client to hang up)."""
        fault = huge_body(size, status, framing=framing)
        self.faults.add(n, fault, include_health=include_health)

    def chaos(self, chaos: Chaos | None, *, seed: int = 0) -> None:
        """From now on, requests no queued fault claims meet random faults (see Chaos);
        `chaos(None)` ends it. `faults.chaos_counts` tells what was injected."""
        self.faults.set_chaos(chaos, seed)

    def non_json_next(self, n: int, status: int = 202, *, include_health: bool = False) -> None:
        """Answer an HTML page, as a proxy would."""
        self.faults.add(n, non_json(status), include_health=include_health)
