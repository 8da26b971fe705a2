"""The error hierarchy: every failure the client reports is a VectorVueError.

Messages are built from field names, rules and already-masked values only, so no
str, repr or traceback line of these exceptions can carry a credential.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vectorvue_client.domain.envelope import ResponseEnvelope


class VectorVueError(Exception):
    """Base class of every error raised by vectorvue-client."""

    def __repr__(self) -> str:
        # The default repr would repeat args; keep it identical to str so the masking
        # done when the message was built is the only thing that ever shows.
        return f"{type(self).__name__}({str(self)!r})"


class VectorVueConfigError(VectorVueError):
    """Invalid or missing configuration; `field` names the setting, `rule` what it broke."""

    def __init__(self, field: str, rule: str) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")


@dataclass(frozen=True, slots=True)
class Problem:
    """One rule broken by one input: where (item index, dotted field path) and which rule."""

    field: str
    rule: str
    index: int | None = None

    def __str__(self) -> str:
        where = self.field if self.index is None else f"item {self.index}: {self.field}"
        return f"{where}: {self.rule}"


class VectorVueSerializationError(VectorVueError):
    """A payload that cannot be normalized or encoded; nothing of it was sent.

    `problems` lists every broken rule (several items of a batch may be wrong at once);
    `field` and `rule` are those of the first problem.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("a serialization error needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        first = self.problems[0]
        self.field = first.field
        self.rule = first.rule
        self.index = first.index
        message = str(first)
        if len(self.problems) > 1:
            message += f" (and {len(self.problems) - 1} more problem(s))"
        super().__init__(message)

    @classmethod
    def single(cls, field: str, rule: str, index: int | None = None) -> VectorVueSerializationError:
        """The common case: one field broke one rule."""
        return cls([Problem(field=field, rule=rule, index=index)])

    def rules(self) -> str:
        """Every problem as "field: rule", joined: the whole reason, without item indices
        (for a record of one item, such as a dead letter)."""
        return "; ".join(f"{p.field}: {p.rule}" for p in self.problems)

    def at_index(self, index: int) -> VectorVueSerializationError:
        """The same problems, attributed to item `index` of a batch."""
        return VectorVueSerializationError(
            [Problem(field=p.field, rule=p.rule, index=index) for p in self.problems]
        )


class TransportErrorKind(StrEnum):
    """What went wrong below HTTP; the retry policy reads this, never the message."""

    CONNECT = "connect"  # no connection was made: nothing was sent
    TIMEOUT = "timeout"  # sent, no answer in time: the server may have processed it
    CONNECTION_LOST = "connection_lost"  # reset or closed mid-exchange
    TLS = "tls"  # handshake, certificate or hostname failure
    PIN_MISMATCH = "pin_mismatch"  # the peer's certificate is not one we pinned
    REDIRECT = "redirect"  # a 3xx: we never follow redirects
    RESPONSE_TOO_LARGE = "response_too_large"
    PROTOCOL = "protocol"  # the peer did not speak HTTP as expected
    DEADLINE = "deadline"  # the send's time budget ran out before an attempt could start


class VectorVueTransportError(VectorVueError):
    """The exchange failed below HTTP (connection, timeout, TLS, redirect, ...)."""

    def __init__(self, kind: TransportErrorKind, detail: str, *, attempts: int = 1) -> None:
        self.kind = kind
        self.detail = detail
        self.attempts = attempts
        super().__init__(f"{kind.value}: {detail} (after {attempts} attempt(s))")


class VectorVueAPIError(VectorVueError):
    """VectorVue answered with a non-2xx status that the client could not ride out."""

    def __init__(
        self,
        *,
        status_code: int,
        error_code: str | None,
        message: str,
        request_id: str | None,
        retry_after: float | None,
        envelope: ResponseEnvelope | None = None,
    ) -> None:
        self.status_code = status_code
        self.error_code = error_code
        self.request_id = request_id
        self.retry_after = retry_after
        self.envelope = envelope
        code = f" {error_code}" if error_code else ""
        rid = f" [request {request_id}]" if request_id else ""
        super().__init__(f"HTTP {status_code}{code}: {message}{rid}")


class VectorVueOutboxError(VectorVueError):
    """The outbox file cannot be used as asked (full disk, read-only, corrupt, foreign, in
    use by another process). Nothing already stored in it was changed or lost."""

    def __init__(self, path: str, rule: str) -> None:
        self.path = path
        self.rule = rule
        super().__init__(f"outbox {path}: {rule}")
