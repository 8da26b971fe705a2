"""AuditSink onto the standard logging module: one JSON line per operation."""

from __future__ import annotations

import logging

import msgspec

from vectorvue_client.domain.audit import AuditRecord, masked
from vectorvue_client.log_scrub import scrub_logger

_ENCODER = msgspec.json.Encoder(order="sorted")  # keys in alphabetical order, as before
# The audit logger is shared with the audit file's sink (its failures are logged there).
_AUDIT_LOGGER = scrub_logger(logging.getLogger("vectorvue_client.audit"))
_LOGGER = scrub_logger(logging.getLogger(__name__))


class LoggingAuditSink:
    """Logs each record as one JSON object on the `vectorvue_client.audit` logger: INFO for
    successes, WARNING otherwise. Records hold no secrets by construction (the client
    scrubs them), and each is masked of every known secret before it is encoded, whatever
    logger it goes to; a failing log handler never breaks a delivery."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or _AUDIT_LOGGER

    def keeps(self, outcome: str) -> bool:
        """Whether the logger would emit a record with this outcome (its level allows it)."""
        return self._logger.isEnabledFor(_level(outcome))

    def record(self, record: AuditRecord) -> None:
        """Log `record`."""
        level = _level(record.outcome)
        if not self._logger.isEnabledFor(level):
            return  # nobody listens at this level: encoding the line would be wasted work
        try:
            # msgspec encodes the dataclass itself (dataclasses.asdict deep-copies first).
            line = _ENCODER.encode(masked(record)).decode()
            self._logger.log(level, "vectorvue %s", line)
        except Exception:
            _LOGGER.debug("audit record could not be logged", exc_info=True)


def _level(outcome: str) -> int:
    return logging.INFO if outcome == "success" else logging.WARNING
