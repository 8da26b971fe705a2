"""Log records of the library, masked of every known secret before any handler sees them.

Every `vectorvue_client.*` logger gets the one filter where the logger is created:

    _LOGGER = scrub_logger(logging.getLogger("vectorvue_client.credentials"))

A filter on a logger runs for the records logged on that very logger (not for those of its
children that propagate to it), and before any handler, the embedder's included: so each
module's logger carries it. The masking is by value only (domain.redaction.mask_known,
ADR 0021): the words of our messages are ours, and a shape could mangle a setting's name.
"""

from __future__ import annotations

import logging
from typing import Final

from vectorvue_client.domain.redaction import mask_known

# Only formatException is used: the default rendering of a traceback, before any handler's
# own formatter runs (which then finds exc_text set, and prints it as it is).
_TRACEBACKS: Final = logging.Formatter()


class SecretScrubFilter(logging.Filter):
    """Masks every known secret out of a record's formatted message, traceback and stack.

    When the message holds one, it is replaced by its masked formatting (and the arguments
    dropped). A record's traceback is rendered once, masked, into `exc_text`, and its
    `exc_info` is dropped: a handler that formats the exception itself (or an error
    reporter that reads the frames, whose locals hold revealed credentials) would otherwise
    show what the masking removed. Never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask `record` in place; always keep it."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - logging reports a bad format itself, at emit
            message = None
        if message is not None:
            shown = mask_known(message)
            if shown != message:
                record.msg, record.args = shown, None
        if record.exc_info and record.exc_info[0] is not None:
            if not record.exc_text:
                record.exc_text = _TRACEBACKS.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = mask_known(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_known(record.stack_info)
        return True


_FILTER: Final = SecretScrubFilter()


def scrub_logger(logger: logging.Logger) -> logging.Logger:
    """`logger`, with the secret-masking filter attached (once, however often asked)."""
    # addFilter skips a filter already there: the one shared instance makes this idempotent.
    logger.addFilter(_FILTER)
    return logger
