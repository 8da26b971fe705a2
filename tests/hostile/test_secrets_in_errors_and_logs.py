"""Known secrets in what the client raises, logs and audits, attacked one sink at a time:
every error class, every library logger (message, arguments, traceback, stack), and both
audit sinks, with a secret placed bare where a careless caller or a library would put it.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import pytest

import vectorvue_client.container  # noqa: F401 - creates every logger of the library
from vectorvue_client.adapters.audit_jsonl import JsonlAuditSink
from vectorvue_client.adapters.audit_logging import LoggingAuditSink
from vectorvue_client.audit import verify_audit_chain
from vectorvue_client.domain.audit import AttemptSummary, AuditRecord
from vectorvue_client.domain.errors import (
    Problem,
    TransportErrorKind,
    VectorVueAPIError,
    VectorVueConfigError,
    VectorVueError,
    VectorVueOutboxError,
    VectorVueSerializationError,
    VectorVueTransportError,
)
from vectorvue_client.domain.redaction import MASK, Secret, remember
from vectorvue_client.log_scrub import SecretScrubFilter

SECRET = "vvk_live_7Qm2xZ9pL4"


def _errors(secret: str) -> list[VectorVueError]:
    """One of each error class, the secret in every text it is given."""
    return [
        VectorVueError(f"the client is closed {secret}"),
        VectorVueConfigError(f"field_{secret}", f"expected {secret}"),
        VectorVueSerializationError(
            [Problem(field=f"a.{secret}", rule=f"bad {secret}", index=0), Problem("b", secret)]
        ),
        VectorVueTransportError(TransportErrorKind.TLS, f"peer said {secret}", attempts=2),
        VectorVueAPIError(
            status_code=401,
            error_code=secret,
            message=f"expected key {secret}",
            request_id=secret,
            retry_after=None,
        ),
        VectorVueOutboxError(f"/var/{secret}.sqlite3", f"locked by {secret}"),
    ]


def _shown(exc: VectorVueError) -> str:
    try:
        raise exc
    except VectorVueError as raised:
        lines = traceback.format_exception(raised)
    attributes = {k: v for k, v in vars(exc).items() if k != "__traceback__"}
    return "\n".join([str(exc), repr(exc), *lines, repr(attributes), repr(exc.args)])


@pytest.mark.parametrize("index", range(6))
def test_no_error_shows_a_known_secret(index: int) -> None:
    """Every error class masks a known secret out of its message, str, repr, traceback,
    args and text attributes (field, rule, detail, error_code, request_id, path, problems)."""
    Secret(SECRET)
    exc = _errors(SECRET)[index]
    shown = _shown(exc)
    assert SECRET not in shown
    assert MASK in shown


def test_an_error_made_before_the_secret_was_known_does_not_show_it() -> None:
    """str() masks again when shown: a value registered after the error was made (a token
    read later) is masked in its str, repr and traceback too."""
    exc = VectorVueTransportError(TransportErrorKind.PROTOCOL, f"said {SECRET}")
    remember(SECRET)
    try:
        raise exc
    except VectorVueError as raised:
        text = "".join(traceback.format_exception(raised))
    assert SECRET not in str(exc) + repr(exc) + text


def _library_loggers() -> list[str]:
    names = [
        name
        for name, logger in logging.root.manager.loggerDict.items()
        if (name == "vectorvue_client" or name.startswith("vectorvue_client."))
        and isinstance(logger, logging.Logger)
    ]
    return sorted(names)


@pytest.mark.parametrize("name", _library_loggers())
def test_every_library_logger_masks_known_secrets(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A record on any vectorvue_client logger, with a known secret in its arguments, in
    its exception's message and in its stack, reaches the handlers masked; the traceback is
    kept as masked text, and the exception object (whose frames hold revealed values) is
    not handed on."""
    remember(SECRET)
    logger = logging.getLogger(name)
    assert any(isinstance(f, SecretScrubFilter) for f in logger.filters)
    caplog.set_level(logging.DEBUG, logger=name)
    try:
        raise ValueError(f"library error quoting {SECRET}")
    except ValueError:
        logger.warning("a server said %s", SECRET, exc_info=True, stack_info=True)
    (record,) = [r for r in caplog.records if r.name == name]
    assert SECRET not in caplog.text
    assert SECRET not in record.getMessage()
    assert record.exc_info is None
    assert record.exc_text is not None
    assert f"ValueError: library error quoting {MASK}" in record.exc_text
    assert record.stack_info is not None
    assert SECRET not in record.stack_info


def test_the_log_filter_leaves_other_records_as_they_are(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A record without a known secret keeps its message and arguments (what structured
    handlers read)."""
    remember(SECRET)
    logger = logging.getLogger("vectorvue_client.credentials")
    caplog.set_level(logging.INFO, logger=logger.name)
    logger.info("token of setting %s refreshed", "api_key_env")
    (record,) = caplog.records
    assert record.args == ("api_key_env",)
    assert record.getMessage() == "token of setting api_key_env refreshed"


def _record() -> AuditRecord:
    return AuditRecord(
        time="2026-11-25T12:00:00Z",
        action="send_event",
        method="POST",
        endpoint=f"/api/v1/x/{SECRET}",
        outcome="api_error",
        status_code=401,
        attempts=1,
        duration_seconds=0.5,
        item_count=1,
        idempotency_key="k-1",
        request_id=f"rid {SECRET}",
        error=f"HTTP 401: expected key {SECRET}",
        attempt_log=(AttemptSummary(401, f"{SECRET}", None),),
    )


def test_the_audit_file_never_holds_a_known_secret(tmp_path: Path) -> None:
    """A record built by any code, with the secret in every text field, is written masked,
    and the file still verifies."""
    Secret(SECRET)
    path = tmp_path / "audit.jsonl"
    sink = JsonlAuditSink(path)
    sink.record(_record())
    sink.close()
    text = path.read_text()
    assert SECRET not in text
    assert MASK in text
    assert verify_audit_chain(path).ok


def test_the_logging_audit_sink_masks_even_on_a_logger_of_the_embedder(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """LoggingAuditSink on an embedder's logger (no filter of ours on it) masks the record
    itself before encoding it."""
    Secret(SECRET)
    logger = logging.getLogger("embedder.audit")
    caplog.set_level(logging.INFO, logger=logger.name)
    LoggingAuditSink(logger).record(_record())
    assert caplog.records
    assert SECRET not in caplog.text
    assert MASK in caplog.text
