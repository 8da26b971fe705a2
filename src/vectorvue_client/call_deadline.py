"""The deadline of the public call in progress, for I/O that a port does on its way to it.

A send's deadline bounds everything the send waits for, including what a credential
source does to produce the credential (a login to VectorVue before the request). The
CredentialSource port takes no deadline: embedders write their own sources, and a
signature change would break them. So Delivery states the time left here, for the
duration of the call into the port, and a source that reaches a server reads it.

Held in a ContextVar: per thread (and per asyncio task), never shared between two sends.
Measured on time.monotonic(), the clock sockets wait on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

_ENDS: Final[ContextVar[float | None]] = ContextVar("vectorvue_call_deadline", default=None)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Run the block with `seconds` left of the current call (never more than an outer
    block left)."""
    ends = time.monotonic() + seconds
    outer = _ENDS.get()
    token = _ENDS.set(ends if outer is None else min(ends, outer))
    try:
        yield
    finally:
        _ENDS.reset(token)


def left() -> float | None:
    """Seconds left of the current call (negative once it is spent), or None outside one."""
    ends = _ENDS.get()
    return None if ends is None else ends - time.monotonic()
