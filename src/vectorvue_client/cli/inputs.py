"""Reading `send`'s input file (ADR 0023): JSON Lines streamed line by line, or one JSON
array or object read whole; every problem named by the line it is on.

What the file holds is decided by its first non-blank line: "[" starts a JSON array; a
"{" line that ends before its object does starts one pretty-printed object, unless the
next line is an object on its own (then it is JSON Lines whose first line is cut short);
anything else starts JSON Lines. A UTF-8 byte order mark at the very start is skipped
(Windows tools write one); anywhere else it is a problem of its line.

Lines are decoded with msgspec, which checks UTF-8, refuses raw control characters,
numbers out of range (integers over 4300 digits, floats beyond 1e308) and, through the
interpreter's recursion guard, nesting deeper than about a thousand levels: each a problem
of its line, never an exception. A file that cannot be read at all (missing, a directory,
UTF-16 text, changed between two readings) raises InputFileError.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Final, Self

import msgspec

BOM: Final = b"\xef\xbb\xbf"
UTF16_BOMS: Final = (b"\xff\xfe", b"\xfe\xff")  # UTF-32 LE (FF FE 00 00) is caught too
JSON_SPACE: Final = b" \t\r\n"
SPOOL_CHUNK: Final = 1 << 20
STDIN_NAME: Final = "standard input"

_decoder: Final = msgspec.json.Decoder()
# A value's extent without building it: to tell a truncated line, to locate a problem.
_raw_decoder: Final = msgspec.json.Decoder(msgspec.Raw)
_NOT_NUMBERS: Final = (b"NaN", b"Infinity", b"-Infinity")
_TRUNCATED: Final = msgspec.DecodeError("Input data was truncated")
# Elements as raw byte spans: the array is checked as a whole, each element decoded (and
# refused) on its own, and the spans' lengths give each element's line.
_array_decoder: Final = msgspec.json.Decoder(list[msgspec.Raw])
_AT_BYTE: Final = re.compile(r"\s*\(byte (\d+)\)$")
_OPENING: Final = re.compile(rb"[ \t\r\n]*\[[ \t\r\n]*")
_BETWEEN: Final = re.compile(rb"[ \t\r\n]*,[ \t\r\n]*")


class InputFileError(Exception):
    """The input cannot be read at all: missing, a directory, unreadable, UTF-16, or
    changed while it was being read. The message names the file."""


@dataclass(frozen=True, slots=True)
class Document:
    """One decoded input document: the line it starts on ("line 3", or "line 7 (item 2)"
    in an array), the decoded value, and how many bytes of input it took."""

    where: str
    data: Any
    size: int


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A part of the input that is no JSON document: where it is, and what is wrong."""

    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


def printable(text: str) -> str:
    """`text` with control characters escaped: a file name or a line of a hostile file
    can neither break a one-line message nor drive the operator's terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class InputFile:
    """The input of `send`, opened once and readable several times (`documents()`).

    "-" (standard input) and anything that is not a regular file (a pipe, a FIFO, a
    terminal) can be read only once: it is spooled first to an anonymous temporary file
    (mode 0600, already unlinked, so it is gone when closed or when the process dies).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = STDIN_NAME if path == "-" else printable(path)
        self._file: IO[bytes] | None = None
        self._stamp: tuple[int, int, int, int] | None = None

    def __enter__(self) -> Self:
        try:
            if self.path == "-":
                self._file = self._spool(sys.stdin.buffer)
            else:
                opened = open(self.path, "rb")  # closed in __exit__, or here once spooled
                try:
                    regular = stat.S_ISREG(os.fstat(opened.fileno()).st_mode)
                    self._file = opened if regular else self._spool(opened)
                finally:
                    if self._file is not opened:
                        opened.close()
            self._stamp = _stamp(self._file)
        except OSError as exc:
            raise InputFileError(f"{self.name}: cannot be read ({_reason(exc)})") from exc
        return self

    def __exit__(self, *_: object) -> None:
        if self._file is not None:
            self._file.close()

    def documents(self) -> Iterator[Document | Unreadable]:
        """Every document and every unreadable part, in file order. Each call reads the
        file again from the start; a file that changed since it was opened is refused
        (InputFileError) before anything of it is read, so what was checked is what is
        sent."""
        if self._file is None:
            raise RuntimeError("InputFile is used outside its with block")
        file = self._file
        try:
            if _stamp(file) != self._stamp:
                raise InputFileError(
                    f"{self.name}: changed while it was being read (what was checked would "
                    "not be what is sent); nothing more was sent"
                )
            file.seek(0)
            yield from _read(file, self.name)
        except OSError as exc:
            raise InputFileError(f"{self.name}: cannot be read ({_reason(exc)})") from exc

    def _spool(self, stream: IO[bytes]) -> IO[bytes]:
        spool = tempfile.TemporaryFile(prefix="vectorvue-client-input-")  # noqa: SIM115
        try:
            shutil.copyfileobj(stream, spool, SPOOL_CHUNK)
            spool.flush()
        except BaseException:
            spool.close()
            raise
        return spool


def _stamp(file: IO[bytes]) -> tuple[int, int, int, int]:
    status = os.fstat(file.fileno())
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def _reason(exc: OSError) -> str:
    return exc.strerror.lower() if exc.strerror else str(exc)


def _read(file: IO[bytes], name: str) -> Iterator[Document | Unreadable]:
    """Find the first non-blank line, decide what the file holds, read it that way."""
    offset = number = 0
    for line in file:
        number += 1
        if number == 1:
            if line.startswith(UTF16_BOMS):
                raise InputFileError(
                    f"{name}: UTF-16 text (it starts with a UTF-16 byte order mark); "
                    "convert it to UTF-8"
                )
            if line.startswith(BOM):
                offset, line = len(BOM), line[len(BOM) :]
        if line.strip(JSON_SPACE):
            break
        offset += len(line)
    else:
        what = "empty" if offset == 0 else "blank"
        yield Unreadable("line 1", f"no JSON document (the file is {what})")
        return
    if line.lstrip(JSON_SPACE).startswith(b"["):
        yield from _array(line + file.read(), number)
        return
    if line.lstrip(JSON_SPACE).startswith(b"{") and _truncated(line):
        after = offset + len(line)
        if not _next_line_is_an_object(file):
            # A "{" line that ends too soon, and no JSON Lines object after it: one
            # pretty-printed object, read whole.
            file.seek(offset)
            yield from _whole_object(file.read(), number)
            return
        file.seek(after)
        yield Unreadable(f"line {number}", _line_problem(line, _TRUNCATED))
        yield from _lines(file, number + 1)
        return
    file.seek(offset)
    yield from _lines(file, number)


def _truncated(line: bytes) -> bool:
    try:
        _raw_decoder.decode(line)
    except msgspec.DecodeError as exc:
        return "truncated" in str(exc)
    except RecursionError:
        return False
    return False


def _next_line_is_an_object(file: IO[bytes]) -> bool:
    """Whether the next non-blank line is a JSON object on its own: a JSON Lines file
    whose first line is broken, rather than a pretty-printed object (whose second line
    is a member, `"key": value,`, never an object)."""
    for line in file:
        if line.strip(JSON_SPACE):
            try:
                return isinstance(_decoder.decode(line), dict)
            except (msgspec.DecodeError, RecursionError):
                return False
    return False


def _lines(file: IO[bytes], number: int) -> Iterator[Document | Unreadable]:
    """JSON Lines from the current position, the first being line `number`: one line in
    memory at a time."""
    for line in file:
        if line.strip(JSON_SPACE):
            try:
                document = _decoder.decode(line)
            except (msgspec.DecodeError, RecursionError) as exc:
                yield Unreadable(f"line {number}", _line_problem(line, exc))
            else:
                yield Document(f"line {number}", document, len(line))
        number += 1


def _whole_object(data: bytes, first: int) -> Iterator[Document | Unreadable]:
    """One JSON object spanning several lines, read whole."""
    try:
        document = _decoder.decode(data)
    except (msgspec.DecodeError, RecursionError) as exc:
        yield _whole_problem(data, first, exc)
        return
    yield Document(f"line {first}", document, len(data))


def _array(data: bytes, first: int) -> Iterator[Document | Unreadable]:
    """A JSON array read whole (`data` starts on line `first`): each element a document,
    decoded on its own, named by its line and its position in the array."""
    try:
        elements = _array_decoder.decode(data)
    except (msgspec.DecodeError, RecursionError) as exc:
        yield _whole_problem(data, first, exc)
        return
    if not elements:
        yield Unreadable(f"line {first}", "no JSON document (the array is empty)")
        return
    position = line = 0
    for index, element in enumerate(elements, start=1):
        # Only JSON whitespace and one comma (or the opening bracket) lie between two
        # elements, which msgspec has just checked: the gap's end is the element's start.
        gap = (_OPENING if index == 1 else _BETWEEN).match(data, position)
        start = gap.end() if gap is not None else position
        line += data.count(b"\n", position, start)
        position = start + len(element)
        where = f"line {first + line} (item {index})"
        try:
            document = _decoder.decode(element)
        except (msgspec.DecodeError, RecursionError) as exc:
            yield Unreadable(where, _line_problem(bytes(element), exc, columns=False))
        else:
            yield Document(where, document, len(element))
        line += data.count(b"\n", start, position)


def _line_problem(line: bytes, exc: Exception, *, columns: bool = True) -> str:
    """What is wrong with one line (or one array element), in words, with the column
    where it is known. Runs only on a line that failed, so it may look at it twice."""
    if line.startswith(BOM):
        return "a UTF-8 byte order mark, which is accepted only at the start of the file"
    nul = line.find(b"\x00")
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        if nul < 0 or bad.start < nul:
            at = f" at column {bad.start + 1}" if columns else ""
            return f"not UTF-8 text (byte 0x{line[bad.start]:02x}{at})"
    if nul >= 0:
        return f"a NUL byte{f' at column {nul + 1}' if columns else ''}: not JSON text"
    what, offset = _what(exc)
    if isinstance(exc, RecursionError):
        offset = _too_deep_at(line)
    elif offset is not None and line.startswith(_NOT_NUMBERS, offset):
        what = f"not JSON: {_not_a_number(line, offset)}"
    elif offset is not None and offset >= len(line.rstrip(JSON_SPACE)):
        # The end of the line inside a string: the value is cut off, not badly written.
        what, offset = _what(_TRUNCATED)
    return what if offset is None or not columns else f"{what} at column {offset + 1}"


def _whole_problem(data: bytes, first: int, exc: Exception) -> Unreadable:
    """The one problem of an array or object read whole, named by its line and column."""
    what, offset = _what(exc)
    if isinstance(exc, RecursionError):
        offset = _too_deep_at(data)
    elif offset is None:  # truncated: the problem is where the data ends
        offset = len(data.rstrip(JSON_SPACE))
    line = first + data.count(b"\n", 0, offset)
    at = f"at column {offset - data.rfind(b'\n', 0, offset)}"
    if offset < len(data) and data[offset] == 0:
        return Unreadable(f"line {line}", f"a NUL byte {at}: not JSON text")
    if data.startswith(_NOT_NUMBERS, offset):
        return Unreadable(f"line {line}", f"not JSON: {_not_a_number(data, offset)} {at}")
    if offset < len(data) and data[offset] >= 0x80:
        at += f" (byte 0x{data[offset]:02x}: is this UTF-8 text?)"
    return Unreadable(f"line {line}", f"{what} {at}")


def _not_a_number(data: bytes, offset: int) -> str:
    # Python's json.dumps writes these by default, so an orchestrator may well emit them.
    token = next(t for t in _NOT_NUMBERS if data.startswith(t, offset)).decode()
    return f"{token} is not a JSON number"


def _what(exc: Exception) -> tuple[str, int | None]:
    """msgspec's reason, reworded, and the byte offset it names (if any)."""
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply to read (beyond the interpreter's recursion limit)", None
    message = str(exc)
    if isinstance(exc, msgspec.ValidationError):
        # Decoding to Any validates nothing but numbers: msgspec refuses an integer of
        # over 4300 digits (Python's int_max_str_digits) and a float beyond 1.8e308.
        if message.startswith("Integer"):
            return "an integer of more than 4300 digits", None
        return f"a number out of range ({message.partition(' - at ')[0]})", None
    if "truncated" in message:
        return "not JSON: it ends before the value does (truncated)", None
    reason = message.removeprefix("JSON is malformed: ")
    match = _AT_BYTE.search(reason)
    if match is None:
        return f"not JSON: {reason}", None
    return f"not JSON: {reason[: match.start()]}", int(match.group(1))


def _too_deep_at(data: bytes) -> int:
    """Where nesting first goes too deep: the end of the shortest prefix that fails so (a
    prefix cut before that point fails as truncated instead), found by bisection. Runs
    only on input already refused."""
    view = memoryview(data)
    low, high = 0, len(data)
    while low < high:
        middle = (low + high) // 2
        try:
            _raw_decoder.decode(view[:middle])
        except RecursionError:
            high = middle
            continue
        except msgspec.DecodeError:
            pass
        low = middle + 1
    return max(high - 1, 0)
