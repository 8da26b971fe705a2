"""Ctrl-C and SIGTERM for the long-running commands (`receiver`, `bridge`), whose servers
and workers run on threads of their own.

A signal sent to a process goes to any thread that does not block it. Python runs the
handler only in the main thread, and only when that thread wakes: a stop signal taken by
a server thread never woke a main thread asleep until the stop (the receiver hung so, one
run in three). So the signals are held (blocked) in the main thread before any other
thread starts, every thread inheriting the mask, and the main thread takes them itself.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Final

STOP_SIGNALS: Final = frozenset({signal.SIGINT, signal.SIGTERM})


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Keep Ctrl-C and SIGTERM pending in this thread and every thread started inside, so
    that only `wait` takes them; a signal sent before the wait waits for it."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: Ctrl-C reaches the main thread
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def wait(seconds: float | None) -> bool:
    """Whether Ctrl-C or SIGTERM came within `seconds` (None: wait for one). Call it
    inside `held()`, from the main thread."""
    if not hasattr(signal, "sigtimedwait"):  # no signal masks (Windows): Ctrl-C raises
        try:
            threading.Event().wait(seconds)
        except KeyboardInterrupt:
            return True
        return False
    if seconds is None:
        signal.sigwait(STOP_SIGNALS)
        return True
    return signal.sigtimedwait(STOP_SIGNALS, seconds) is not None
