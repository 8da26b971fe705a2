"""Properties of the hash-chained audit format: every chain the sink can write verifies, and
every kind of damage is reported on exactly the line the module docstring of
vectorvue_client.domain.audit_chain says: the first line of the file that is not the line
the sink wrote at that position."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vectorvue_client.domain.audit import AttemptSummary, AuditRecord
from vectorvue_client.domain.audit_chain import (
    MAX_LINE_BYTES,
    ZERO_DIGEST,
    ChainHead,
    ChainReport,
    chain_line,
    continue_after,
    line_digest,
    verify_lines,
)

texts = st.text(max_size=24)
finite = st.floats(allow_nan=False, allow_infinity=False)
attempt_summaries = st.builds(
    AttemptSummary,
    status_code=st.none() | st.integers(100, 599),
    failure=st.none() | texts,
    retry_after_seconds=st.none() | finite,
)
records = st.builds(
    AuditRecord,
    time=texts,
    action=texts,
    method=st.sampled_from(["GET", "POST"]),
    endpoint=texts,
    outcome=st.sampled_from(["success", "rejected", "api_error", "transport_error"]),
    status_code=st.none() | st.integers(100, 599),
    attempts=st.integers(0, 10),
    duration_seconds=finite,
    item_count=st.integers(0, 10_000),
    idempotency_key=st.none() | texts,
    request_id=st.none() | texts,
    error=st.none() | texts,
    attempt_log=st.lists(attempt_summaries, max_size=3).map(tuple),
)


RECORD = AuditRecord(
    time="2026-11-25T12:00:00Z",
    action="send_event",
    method="POST",
    endpoint="/api/v1/integrations/spectrastrike/events",
    outcome="success",
    status_code=202,
    attempts=1,
    duration_seconds=0.5,
    item_count=1,
)


def chain(items: list[AuditRecord]) -> list[bytes]:
    """The lines (each with its newline) a sink writes for `items`, in order."""
    lines: list[bytes] = []
    prev = ZERO_DIGEST
    for seq, item in enumerate(items):
        line = chain_line(item, seq=seq, prev=prev)
        prev = line_digest(line)
        lines.append(line + b"\n")
    return lines


def reread(lines: list[bytes]) -> list[bytes]:
    """The lines as a binary file yields them: a mutation may have merged or split lines."""
    return list(io.BytesIO(b"".join(lines)))


def first_difference(written: list[bytes], found: list[bytes]) -> int | None:
    """The general blame rule: the first 1-based line that is not the line written there."""
    for number, line in enumerate(found, start=1):
        if number > len(written) or written[number - 1] != line:
            return number
    return None


def verify(lines: list[bytes]) -> ChainReport:
    return verify_lines(reread(lines))


def assert_blamed(written: list[bytes], mutated: list[bytes], expected: int) -> None:
    found = reread(mutated)
    report = verify_lines(found)
    assert first_difference(written, found) == expected
    assert not report.ok
    assert report.first_bad_line == expected
    assert report.problem is not None and report.problem.startswith(f"line {expected}: ")
    assert report.records == expected - 1
    previous = ZERO_DIGEST if expected == 1 else line_digest(written[expected - 2][:-1])
    assert report.last_digest == previous


chains = st.lists(records, min_size=1, max_size=10).map(chain)


# -- what verifies ----------------------------------------------------------------------------
@given(st.lists(records, max_size=12))
def test_a_chain_of_n_records_verifies_with_n_records(items: list[AuditRecord]) -> None:
    """Whatever the records hold, the chain the sink writes verifies, and the report's
    last_digest is the digest of the last line (the value to anchor elsewhere)."""
    lines = chain(items)
    report = verify(lines)
    assert report == ChainReport(
        ok=True,
        records=len(items),
        last_digest=line_digest(lines[-1][:-1]) if lines else ZERO_DIGEST,
    )


def test_an_empty_file_is_a_valid_chain_of_no_records() -> None:
    """Nothing written yet is not damage."""
    assert verify_lines([]) == ChainReport(ok=True, records=0)


@given(records, st.integers(0, 1_000), st.binary(min_size=32, max_size=32))
def test_a_line_holds_exactly_the_record_and_the_chain_fields(
    item: AuditRecord, seq: int, prev_raw: bytes
) -> None:
    """The sink writes the record's fields plus seq, prev and hash: nothing else, in the
    documented key order; `hash` is the digest of the canonical line without `hash`."""
    prev = prev_raw.hex()
    line = chain_line(item, seq=seq, prev=prev)
    data: dict[str, Any] = json.loads(line)
    fields = asdict(item)
    assert list(data) == ["seq", *fields, "prev", "hash"]
    assert {k: data[k] for k in fields} == json.loads(json.dumps(fields))
    assert (data["seq"], data["prev"]) == (seq, prev)
    # The line without its `hash` member is the canonical JSON that `hash` digests.
    cut = line[: line.rindex(b',"hash":')] + b"}"
    assert json.loads(cut) == {k: v for k, v in data.items() if k != "hash"}
    assert data["hash"] == hashlib.sha256(cut).hexdigest()
    assert b"\n" not in line


@given(chains)
def test_a_sink_continues_after_the_last_line(lines: list[bytes]) -> None:
    """continue_after gives the next seq and the last line's digest."""
    last = lines[-1][:-1]
    assert continue_after(last) == ChainHead(seq=len(lines), prev=line_digest(last))


# -- damage, and the line it is blamed on -----------------------------------------------------
@given(chains, st.data())
def test_one_changed_byte_is_blamed_on_its_line(lines: list[bytes], data: st.DataObject) -> None:
    """Any byte of line k (its newline included), changed to any other value: line k."""
    k = data.draw(st.integers(1, len(lines)), label="k")
    offset = data.draw(st.integers(0, len(lines[k - 1]) - 1), label="offset")
    flip = data.draw(st.integers(1, 255), label="xor")
    damaged = bytearray(lines[k - 1])
    damaged[offset] ^= flip
    assert_blamed(lines, [*lines[: k - 1], bytes(damaged), *lines[k:]], k)


def test_every_byte_position_is_covered() -> None:
    """Deterministically, every byte of a two-line chain replaced by each JSON-significant
    character (and two bit flips): always blamed on its own line. (A typed decoder can stop
    at the first value: `{` turned into `9` once escaped the "not JSON" check.)"""
    full = AuditRecord(
        **{
            **asdict(RECORD),
            "attempt_log": (AttemptSummary(503, None, 1e-05), AttemptSummary(None, "t", None)),
            "error": 'a "quoted"\nline',
        }
    )
    lines = chain([full, full])
    for k, line in enumerate(lines, start=1):
        for offset, byte in enumerate(line):
            for new in {*b'{}[]",:-.0 9\neEnul\\', byte ^ 0x01, byte ^ 0x80} - {byte}:
                damaged = bytearray(line)
                damaged[offset] = new
                mutated = list(lines)
                mutated[k - 1] = bytes(damaged)
                report = verify(mutated)
                assert report.first_bad_line == k, (k, offset, bytes([new]), report)


@given(st.lists(records, min_size=2, max_size=10).map(chain), st.data())
def test_swapped_lines_are_blamed_on_the_first_of_the_two(
    lines: list[bytes], data: st.DataObject
) -> None:
    """Lines i < j swapped: line i."""
    i = data.draw(st.integers(1, len(lines) - 1), label="i")
    j = data.draw(st.integers(i + 1, len(lines)), label="j")
    mutated = list(lines)
    mutated[i - 1], mutated[j - 1] = mutated[j - 1], mutated[i - 1]
    assert_blamed(lines, mutated, i)


@given(st.lists(records, min_size=2, max_size=10).map(chain), st.data())
def test_a_deleted_line_is_blamed_on_the_line_that_took_its_place(
    lines: list[bytes], data: st.DataObject
) -> None:
    """Line k deleted, k < N (the first included: seq must start at 0): line k."""
    k = data.draw(st.integers(1, len(lines) - 1), label="k")
    assert_blamed(lines, [*lines[: k - 1], *lines[k:]], k)


@given(chains, st.data())
def test_an_inserted_copy_is_blamed_where_it_stands(
    lines: list[bytes], data: st.DataObject
) -> None:
    """A copy of line k inserted so that it becomes line p: line p; when p == k the file is
    the same as a copy right after the original, and the second copy (k + 1) is blamed."""
    k = data.draw(st.integers(1, len(lines)), label="k")
    p = data.draw(st.integers(1, len(lines) + 1), label="p")
    mutated = [*lines[: p - 1], lines[k - 1], *lines[p - 1 :]]
    assert_blamed(lines, mutated, k + 1 if p == k else p)


@given(chains, st.data())
def test_a_duplicated_line_is_blamed_on_the_second_copy(
    lines: list[bytes], data: st.DataObject
) -> None:
    """Line k written twice in a row: line k + 1."""
    k = data.draw(st.integers(1, len(lines)), label="k")
    assert_blamed(lines, [*lines[:k], lines[k - 1], *lines[k:]], k + 1)


@given(chains, st.data())
def test_a_cut_last_line_is_blamed_on_itself(lines: list[bytes], data: st.DataObject) -> None:
    """The last line cut after any of its bytes, down to losing only its newline: line N."""
    keep = data.draw(st.integers(1, len(lines[-1]) - 1), label="kept bytes")
    report = verify([*lines[:-1], lines[-1][:keep]])
    assert_blamed(lines, [*lines[:-1], lines[-1][:keep]], len(lines))
    assert report.problem is not None and "a crash mid-write?" in report.problem


@given(chains)
def test_a_removed_last_line_goes_unseen(lines: list[bytes]) -> None:
    """The documented limit: the file minus its last line is a valid, shorter chain. Only a
    last_digest anchored elsewhere shows that the tail is gone."""
    report = verify(lines[:-1])
    assert report.ok and report.records == len(lines) - 1
    assert report.last_digest != line_digest(lines[-1][:-1])


# -- what the problems say --------------------------------------------------------------------
_DROP: Any = object()


def _edited(line: bytes, **changes: Any) -> bytes:
    data = json.loads(line)
    data.update(changes)
    for key in [k for k, v in changes.items() if v is _DROP]:
        del data[key]
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"\n", "line 1: not JSON / incomplete (a crash mid-write?)"),
        (b'{"seq":0\n', "line 1: not JSON / incomplete (a crash mid-write?)"),
        (b"[1,2]\n", "line 1: not a JSON object"),
        (b"\xff\n", "line 1: not JSON / incomplete (a crash mid-write?)"),
        (b"x" * (MAX_LINE_BYTES + 1), f"line 1: longer than {MAX_LINE_BYTES} bytes"),
    ],
)
def test_unreadable_lines_are_named(line: bytes, problem: str) -> None:
    """Lines that are not even JSON objects: what the operator reads."""
    report = verify_lines([line])
    assert report.first_bad_line == 1
    assert report.problem is not None and report.problem.startswith(problem)


def test_each_check_has_its_own_words() -> None:
    """The problem says what kind of damage it is, on the line where it is."""
    first = chain_line(RECORD, seq=0, prev=ZERO_DIGEST) + b"\n"
    second = chain_line(RECORD, seq=1, prev=line_digest(first[:-1])) + b"\n"
    cases = {
        _edited(second, seq=_DROP): "line 2: missing field 'seq'",
        _edited(second, **{"extra\x1b[2J": 1}): "line 2: unexpected field 'extra\\x1b[2J'",
        _edited(second, seq="1"): "line 2: not the fields and types of an audit line",
        _edited(second, outcome="api_error"): "line 2: content altered (its hash does not match)",
        second.replace(b"0.5", b"0.50"): "line 2: content altered (not in the canonical form",
        chain_line(RECORD, seq=2, prev=line_digest(first[:-1])) + b"\n": (
            "line 2: out of order or a line is missing before it (seq 2, expected 1)"
        ),
        chain_line(RECORD, seq=1, prev=ZERO_DIGEST) + b"\n": (
            "line 2: does not follow line 1 (prev hash differs)"
        ),
    }
    for damaged, problem in cases.items():
        report = verify_lines([first, damaged])
        assert report.first_bad_line == 2 and report.records == 1
        assert report.problem is not None and report.problem.startswith(problem), damaged
    not_first = chain_line(RECORD, seq=0, prev="1" * 64) + b"\n"
    assert (
        verify_lines([not_first]).problem == "line 1: does not start a chain (prev is not 64 zeros)"
    )


def test_only_lines_the_verifier_accepts_are_ever_made() -> None:
    """chain_line refuses what it could not write faithfully (a NaN would become null) and a
    prev that is not a digest; continue_after refuses a damaged last line."""
    with pytest.raises(ValueError, match="finite"):
        chain_line(
            AuditRecord(**{**asdict(RECORD), "duration_seconds": float("nan")}),
            seq=0,
            prev=ZERO_DIGEST,
        )
    with pytest.raises(ValueError, match="digest"):
        chain_line(RECORD, seq=0, prev="ABC")
    with pytest.raises(ValueError, match="digest"):
        chain_line(RECORD, seq=-1, prev=ZERO_DIGEST)
    line = chain_line(RECORD, seq=0, prev=ZERO_DIGEST)
    with pytest.raises(ValueError, match="content altered"):
        continue_after(line.replace(b"success", b"succes5"))
    with pytest.raises(ValueError, match="not JSON"):
        continue_after(line[:-1])
