"""The library's log records on stderr, one line each, at the level the global options ask.

The library only logs (a NullHandler on `vectorvue_client`): an embedder decides where records
go. The command line is the embedder here, and an operator must see what the library warns
about (a key file others may read, an outbox recovered after a crash): by default warnings and
errors print, `-q` errors only, `-v` adds information (one audit record per operation, with
VectorVue's request id), `-vv` debug records and urllib3's line per request.

Audit records of failed operations are warnings, and the command already says in its own
error line what failed: below `-v` the audit logger prints errors only (the audit file
failing), so an error stays one line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Final, TextIO

from vectorvue_client.cli.inputs import printable
from vectorvue_client.log_scrub import SecretScrubFilter

_LIBRARY: Final = logging.getLogger("vectorvue_client")
_AUDIT: Final = logging.getLogger("vectorvue_client.audit")
# The HTTP exchanges (both transports pool through urllib3): what `-vv` is for. Its records
# pass through this handler's own scrub filter, as the library's pass through their loggers'.
_HTTP: Final = logging.getLogger("urllib3")
_LEVELS: Final = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}


class _OneLine(logging.Formatter):
    """`warning: vectorvue_client.credentials: message`, control characters escaped; a
    record's traceback is reduced to its last line unless --debug asks for tracebacks."""

    def __init__(self, *, tracebacks: bool) -> None:
        super().__init__()
        self._tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        line = f"{record.levelname.lower()}: {record.name}: {printable(record.getMessage())}"
        # The scrub filter has rendered (and masked) any traceback into exc_text already.
        trace = (record.exc_text or "").strip()
        if not trace:
            return line
        if self._tracebacks:
            return f"{line}\n{trace}"
        return f"{line} ({printable(trace.splitlines()[-1])})"


class _StderrHandler(logging.StreamHandler[TextIO]):
    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        # stderr closed or a broken pipe: a log line is not worth logging's traceback.
        pass


def install(args: argparse.Namespace) -> None:
    """Print the library's records on stderr as `args.quiet`, `args.verbose` and
    `args.debug` (the merged global options) ask; replaces what an earlier call installed."""
    verbosity = -1 if args.quiet else args.verbose
    level = _LEVELS.get(verbosity, logging.DEBUG)
    handler = _StderrHandler(sys.stderr)
    handler.addFilter(SecretScrubFilter())
    handler.setFormatter(_OneLine(tracebacks=args.debug))
    for logger in (_LIBRARY, _HTTP):
        for old in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
            logger.removeHandler(old)
    _LIBRARY.addHandler(handler)
    _LIBRARY.setLevel(level)
    _AUDIT.setLevel(level if verbosity >= 1 else logging.ERROR)
    if level == logging.DEBUG:
        _HTTP.addHandler(handler)
        _HTTP.setLevel(logging.DEBUG)
