"""The on-disk format of the hash-chained audit log, and its verifier.

One audit record per line (JSON Lines). A line is the canonical JSON (one msgspec Encoder,
`order="deterministic"`) of an object with the record's fields (time, action, method,
endpoint, outcome, status_code, attempts, duration_seconds, item_count, idempotency_key,
request_id, error, attempt_log) plus:

- `seq`:  0 for the first line, then 1, 2, ...;
- `prev`: the SHA-256 hex of the previous line's exact bytes without its newline (64 zeros
  for seq 0), so each line pins everything before it;
- `hash`: the SHA-256 hex of this line's canonical JSON computed without the `hash` field,
  so a line can be checked on its own (the last line has no successor to pin it).

Keys come in that order: `seq`, the record's fields, `prev`, `hash`. Every line ends with
`\\n`. A line must be exactly the canonical encoding of its own values: a line that decodes to
the right values but is spelled differently (`1E-05` for `1e-05`) was edited, and is reported.

What the verifier blames (1-based line numbers, N lines written): the first line of the file
that is not the line the sink wrote at that position. Per mutation:

- one byte changed in line k (its newline included): line k;
- lines i < j swapped: line i;
- line k deleted (k < N, the first included): line k, which now holds line k+1;
- a copy of line k inserted so that it becomes line p: line p; except when the copy lands
  just before its original (p == k), which gives the same file as a copy just after it
  (a duplicated line): then the second of the two identical lines, k+1, is blamed;
- the last line cut at any point after its first byte (its newline included): line N.

What it cannot see: the last line(s) removed. The file that remains is a valid, shorter
chain, and nothing in it says more followed. Detecting that needs a witness outside the
file: anchor `ChainReport.last_digest` (or the sink's latest line digest) somewhere the
writer of the file cannot rewrite, and compare. Likewise an attacker with write access who
rewrites the whole file and recomputes every hash leaves a valid chain: the chain makes edits
evident, it is not a signature (see adr/0009-hash-chained-audit-file.md).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import msgspec

from vectorvue_client.domain.audit import AuditRecord, masked

ZERO_DIGEST: Final = "0" * 64
# A bound on one line, so that a reader streaming a corrupted file (a gigabyte with no
# newline) never holds more than this in memory. Real lines are well under a kilobyte.
MAX_LINE_BYTES: Final = 1 << 20

_ENCODER: Final = msgspec.json.Encoder(order="deterministic")
_HEX: Final = frozenset("0123456789abcdef")
_NOT_JSON: Final = "not JSON / incomplete (a crash mid-write?)"


class _Attempt(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    status_code: int | None
    failure: str | None
    retry_after_seconds: float | None


class _Body(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # Field order is the key order on disk (the encoder keeps Struct definition order).
    seq: int
    time: str
    action: str
    method: str
    endpoint: str
    outcome: str
    status_code: int | None
    attempts: int
    duration_seconds: float
    item_count: int
    idempotency_key: str | None
    request_id: str | None
    error: str | None
    attempt_log: tuple[_Attempt, ...]
    prev: str


class _Line(_Body, frozen=True, forbid_unknown_fields=True):
    # A subclass's fields come after its parent's: `hash` is always the last key.
    hash: str


_DECODER: Final = msgspec.json.Decoder(_Line)
_FIELDS: Final = frozenset(_Line.__struct_fields__)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The verdict on an audit file.

    `records` counts the lines that verified (all of them when `ok`, those before the bad one
    otherwise). `first_bad_line` (1-based) and `problem` say where and what when not `ok`.
    `last_digest` is the line_digest of the last line that verified (64 zeros when none
    did): anchor it outside the file to detect a later removal of the file's tail.
    """

    ok: bool
    records: int
    first_bad_line: int | None = None
    problem: str | None = None
    last_digest: str = ZERO_DIGEST


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Where a chain ends: the `seq` and `prev` of the next line to append."""

    seq: int
    prev: str


GENESIS: Final = ChainHead(seq=0, prev=ZERO_DIGEST)


def line_digest(line: bytes) -> str:
    """SHA-256 hex of a line's exact bytes, without its newline: the next line's `prev`."""
    return hashlib.sha256(line).hexdigest()


def chain_line(record: AuditRecord, *, seq: int, prev: str) -> bytes:
    """The line (without its newline) that appends `record` at `seq` after `prev`, every
    known secret masked out of its texts.

    ValueError when the record cannot be written as a line the verifier would accept (a
    non-finite float, a value of the wrong type, a line over MAX_LINE_BYTES): the sink must
    never write a line that its own verifier would reject.
    """
    if seq < 0 or not _is_digest(prev):
        raise ValueError("seq must be >= 0 and prev a lowercase SHA-256 hex digest")
    # Here, where the line is made, so that every writer of the file masks known secrets.
    record = masked(record)
    floats = [record.duration_seconds, *(a.retry_after_seconds or 0.0 for a in record.attempt_log)]
    if not all(math.isfinite(f) for f in floats):
        # msgspec would write NaN as null, which would turn a duration into "no duration".
        raise ValueError("an audit record's durations must be finite")
    # Converted, not copied field by field: an int duration becomes a float (written `0.0`,
    # as it reads back: the line stays canonical), a value of the wrong type is refused.
    fields = msgspec.to_builtins(record)
    body = msgspec.convert({**fields, "seq": seq, "prev": prev}, _Body)
    line = _seal(body)
    checked = _check_line(line)
    if isinstance(checked, str):
        raise ValueError(f"the record does not make a valid audit line: {checked}")
    return line


def continue_after(last_line: bytes) -> ChainHead:
    """Where to append after `last_line` (the file's last line, without its newline).

    ValueError (its message says what is wrong) when it is not a valid chain line on its
    own: appending after a damaged line would bury the damage in the middle of the file.
    """
    checked = _check_line(last_line)
    if isinstance(checked, str):
        raise ValueError(checked)
    return ChainHead(seq=checked.seq + 1, prev=line_digest(last_line))


def verify_lines(lines: Iterable[bytes]) -> ChainReport:
    """Verify a whole audit log, given its lines as iterating a binary file yields them
    (each with its `\\n`; only a cut final line lacks it, and that is reported).

    Stops at the first bad line; see the module docstring for which line each kind of
    damage is blamed on, and for what no verification of the file alone can detect.
    """
    prev = ZERO_DIGEST
    records = 0
    for number, raw in enumerate(lines, start=1):
        problem = _problem(raw, number, prev)
        if problem is not None:
            return ChainReport(
                ok=False,
                records=records,
                first_bad_line=number,
                problem=f"line {number}: {problem}",
                last_digest=prev,
            )
        prev = line_digest(raw[:-1])
        records += 1
    return ChainReport(ok=True, records=records, last_digest=prev)


def _problem(raw: bytes, number: int, prev: str) -> str | None:
    complete = raw.endswith(b"\n")
    if len(raw) - complete > MAX_LINE_BYTES:
        return f"longer than {MAX_LINE_BYTES} bytes: not a line the audit sink writes"
    if not complete:
        # Only the final line of a file can lack it: the sink writes line and newline in one
        # write, so this is a write that did not finish, or a tail cut afterwards.
        return "incomplete: no newline at its end (a crash mid-write?)"
    checked = _check_line(raw[:-1])
    if isinstance(checked, str):
        return checked
    if checked.seq != number - 1:
        return (
            f"out of order or a line is missing before it "
            f"(seq {checked.seq}, expected {number - 1})"
        )
    if checked.prev != prev:
        if number == 1:
            return "does not start a chain (prev is not 64 zeros)"
        return f"does not follow line {number - 1} (prev hash differs)"
    return None


def _check_line(line: bytes) -> _Line | str:
    """The line's values if it is a sound chain line on its own, else what is wrong."""
    if len(line) > MAX_LINE_BYTES:
        return f"longer than {MAX_LINE_BYTES} bytes: not a line the audit sink writes"
    try:
        decoded = _DECODER.decode(line)
    except msgspec.ValidationError as exc:
        return _schema_problem(line, exc)
    except ValueError:
        # msgspec.DecodeError, or UnicodeDecodeError for bytes that are not UTF-8.
        return _NOT_JSON
    if decoded.hash != hashlib.sha256(_ENCODER.encode(_without_hash(decoded))).hexdigest():
        return "content altered (its hash does not match)"
    if _ENCODER.encode(decoded) != line:
        # Same values, other spelling: the hash covers the canonical form, so this line
        # was edited by something other than the sink.
        return "content altered (not in the canonical form the audit sink writes)"
    return decoded


def _schema_problem(line: bytes, exc: msgspec.ValidationError) -> str:
    try:
        data = msgspec.json.decode(line)
    except ValueError:
        # A typed decode can refuse the first value before it reads far enough to see
        # that the rest is not JSON (`9"seq":...` is "not an object" to it).
        return _NOT_JSON
    if not isinstance(data, dict):
        return "not a JSON object"
    for name in _Line.__struct_fields__:
        if name not in data:
            return f"missing field {name!r}"
    for name in data:
        if name not in _FIELDS:
            # The name comes from the file: cut it, and repr() escapes control characters.
            return f"unexpected field {str(name)[:40]!r}"
    # msgspec's message names a type and a path, never a value.
    return f"not the fields and types of an audit line ({exc})"


def _seal(body: _Body) -> bytes:
    digest = hashlib.sha256(_ENCODER.encode(body)).hexdigest()
    return _ENCODER.encode(_Line(**msgspec.structs.asdict(body), hash=digest))


def _without_hash(line: _Line) -> _Body:
    fields = msgspec.structs.asdict(line)
    del fields["hash"]
    return _Body(**fields)


def _is_digest(value: str) -> bool:
    return len(value) == 64 and set(value) <= _HEX
