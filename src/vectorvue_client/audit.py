"""Verification of a hash-chained audit file written by JsonlAuditSink (ADR 0009)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from vectorvue_client.domain.audit_chain import MAX_LINE_BYTES, ChainReport, verify_lines
from vectorvue_client.domain.errors import VectorVueConfigError


def verify_audit_chain(path: str | os.PathLike[str]) -> ChainReport:
    """Verify the audit file at `path`, streaming it line by line.

    Returns the report (ok, records, the first bad line and why); VectorVueConfigError
    (field "audit_file") when the file is missing or cannot be read. A valid report does not
    prove that no line was removed from the END of the file: compare `last_digest` with a
    copy kept elsewhere for that (see vectorvue_client.domain.audit_chain).
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as file:
            return verify_lines(_lines(file))
    except FileNotFoundError:
        raise VectorVueConfigError("audit_file", f"{name} does not exist") from None
    except OSError as exc:
        raise VectorVueConfigError("audit_file", f"cannot read {name}: {exc.strerror}") from None


def _lines(file: BinaryIO) -> Iterator[bytes]:
    # readline() with a limit: a damaged file with no newline in a gigabyte is read one
    # bounded piece at a time, and the verifier stops at the first piece that is too long.
    while line := file.readline(MAX_LINE_BYTES + 1):
        yield line
