"""The error hierarchy: every failure the client reports is a VectorVueError.

Messages are built from field names, rules and already-masked values. As a second line,
every error masks each known secret (domain.redaction: every value the client registered,
ADR 0021) out of its message and its text attributes when it is made, and out of its str
again when it is shown (a value registered after it was made is masked too): no str, repr
or traceback line of these exceptions can carry a credential the client knows, even one a
server echoed bare.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from vectorvue_client.domain.redaction import mask_known

if TYPE_CHECKING:
    from vectorvue_client.domain.envelope import ResponseEnvelope


class VectorVueError(Exception):
    """Base class of every error raised by vectorvue-client; its text never holds a
    known secret."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(mask_known(a) if isinstance(a, str) else a for a in args))

    def __str__(self) -> str:
        # Cheap (a substring test per known value), and shown rarely: masked once more so
        # that a secret registered after this error was made is not shown either.
        return mask_known(super().__str__())

    def __repr__(self) -> str:
        # The default repr would repeat args; keep it identical to str so the masking
        # done when the message was built is the only thing that ever shows.
        return f"{type(self).__name__}({str(self)!r})"


class VectorVueConfigError(VectorVueError):
    """Invalid or missing configuration; `field` names the setting, `rule` what it broke."""

    def __init__(self, field: str, rule: str) -> None:
        self.field = mask_known(field)
        self.rule = mask_known(rule)
        super().__init__(f"{self.field}: {self.rule}")


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
        # A rule may quote the offending input, and a field path names its keys: both are
        # text of the caller's, which may hold a secret the client knows.
        self.problems: tuple[Problem, ...] = tuple(
            Problem(field=mask_known(p.field), rule=mask_known(p.rule), index=p.index)
            for p in problems
        )
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
        self.detail = mask_known(detail)
        self.attempts = attempts
        super().__init__(f"{kind.value}: {self.detail} (after {attempts} attempt(s))")


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
        # Server text, all of it: map_response masked it already, an error built by other
        # code may not have.
        self.status_code = status_code
        self.error_code = None if error_code is None else mask_known(error_code)
        self.request_id = None if request_id is None else mask_known(request_id)
        self.retry_after = retry_after
        self.envelope = envelope
        code = f" {self.error_code}" if self.error_code else ""
        rid = f" [request {self.request_id}]" if self.request_id else ""
        super().__init__(f"HTTP {status_code}{code}: {message}{rid}")


class VectorVueOutboxError(VectorVueError):
    """The outbox file cannot be used as asked (full disk, read-only, corrupt, foreign, in
    use by another process). Nothing already stored in it was changed or lost."""

    def __init__(self, path: str, rule: str) -> None:
        self.path = mask_known(path)
        self.rule = mask_known(rule)
        super().__init__(f"outbox {self.path}: {self.rule}")
