"""AuditSink onto an append-only, hash-chained JSON Lines file (ADR 0009)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import threading
from typing import Final, Literal

from vectorvue_client.domain.audit import AuditRecord
from vectorvue_client.domain.audit_chain import (
    GENESIS,
    MAX_LINE_BYTES,
    ChainHead,
    chain_line,
    continue_after,
    line_digest,
)
from vectorvue_client.domain.errors import VectorVueConfigError

_LOGGER: Final = logging.getLogger("vectorvue_client.audit")
_TAIL_CHUNK: Final = 64 * 1024
_MOVE_ASIDE: Final = (
    "run vectorvue_client.verify_audit_chain on it, then move it aside and start a new "
    "file: an audit file is never rewritten or truncated"
)


class JsonlAuditSink:
    """Appends each record as one line of a hash-chained JSONL file (see domain.audit_chain).

    The file is created with mode 0o600 (an existing file's mode is left as it is) and only
    ever appended to. A new sink on an existing file continues its chain from the last line,
    read from the end of the file: resuming costs the same for a kilobyte or a gigabyte.

    `fsync="always"`: each record is on stable storage when record() returns; it survives
    a power loss (at the cost of one disk flush per record). `fsync="never"`: the OS writes
    it back when it chooses (seconds, typically); a crash of this process loses nothing, a
    power loss may lose the latest records, which the chain cannot show.

    One sink per file: two sinks (or two processes) appending to one file would write the
    same seq twice. record() is thread-safe and never raises; a failed write is logged on
    the `vectorvue_client.audit` logger at ERROR, once per run of failures.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: Literal["always", "never"] = "always",
    ) -> None:
        if fsync not in ("always", "never"):
            raise VectorVueConfigError("audit_fsync", "must be 'always' or 'never'")
        self._path = os.fspath(path)
        self._durable = fsync == "always"
        self._lock = threading.Lock()
        self._failing = False  # inside a run of failures: logged once, at its start
        self._dropped = 0
        self._torn = False
        self._fd = _open_append(self._path, durable=self._durable)
        try:
            self._head = _resume(self._fd, self._path)
        except BaseException:
            os.close(self._fd)
            raise

    def record(self, record: AuditRecord) -> None:
        """Append `record` to the chain; on failure log it and keep the chain as it was."""
        with self._lock:
            try:
                self._append(record)
            except Exception as exc:  # noqa: BLE001 - the port: auditing never breaks a delivery
                self._failed(exc)
                return
            self._recovered()

    def close(self) -> None:
        """Close the file; later records are dropped and logged. Closing twice is harmless."""
        with self._lock:
            if self._fd >= 0:
                fd, self._fd = self._fd, -1
                os.close(fd)

    def _append(self, record: AuditRecord) -> None:
        if self._fd < 0:
            raise _WriteError("record not written: the sink is closed", dropped=True)
        if self._torn:
            raise _WriteError(
                "the file ends with a partial line that could not be removed; " + _MOVE_ASIDE,
                dropped=True,
            )
        line = chain_line(record, seq=self._head.seq, prev=self._head.prev)
        data = line + b"\n"
        # One write() on an O_APPEND descriptor: the kernel moves to the end and writes the
        # whole line under the inode lock, so on a local filesystem no other appender can land
        # inside it, and a crash leaves at most one cut final line (which verify reports).
        try:
            written = os.write(self._fd, data)
        except OSError as exc:
            raise _WriteError(f"record not written ({_os_error(exc)})", dropped=True) from None
        if written != len(data):
            removed = self._take_back(written)
            raise _WriteError(
                f"record not written (short write, {written} of {len(data)} bytes: disk or "
                "quota full?); "
                + ("the partial line was removed" if removed else "a partial line remains"),
                dropped=True,
            )
        # The line is in the file: the chain moves on even if the flush below fails, or the
        # next line would repeat this seq.
        self._head = ChainHead(seq=self._head.seq + 1, prev=line_digest(line))
        if self._durable:
            # Under the lock, so that when record() returns its line and every line before
            # it are on disk; the lock is held for the flush (the cost measured in ADR 0009).
            try:
                os.fsync(self._fd)
            except OSError as exc:
                detail = (
                    f"record written but fsync failed ({_os_error(exc)}): it may not survive "
                    "a power loss"
                )
                raise _WriteError(detail, dropped=False) from None

    def _take_back(self, written: int) -> bool:
        # A partial line at the end would glue itself to the next line and break the chain
        # there; removing exactly the bytes this call added restores the last line boundary.
        # With one writer per file, nothing any other write produced is touched.
        try:
            os.ftruncate(self._fd, os.fstat(self._fd).st_size - written)
        except OSError:
            # Appending after the fragment would bury it mid-file: stop writing instead.
            self._torn = True
            return False
        return True

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, _WriteError):
            detail, dropped = exc.detail, exc.dropped
        else:
            # The type only: an encoding error's message may quote the record.
            detail = f"record not written: it cannot be encoded ({type(exc).__name__})"
            dropped = True
        self._dropped += int(dropped)
        if self._failing:
            return
        self._failing = True
        # A broken log handler must not break a delivery either.
        with contextlib.suppress(Exception):
            _LOGGER.error(
                "audit file %s: %s (logged once until a record is written again)",
                self._path,
                detail,
            )

    def _recovered(self) -> None:
        if not self._failing:
            return
        dropped, self._failing, self._dropped = self._dropped, False, 0
        # The chain has no gap where records were dropped: this line is their only trace.
        with contextlib.suppress(Exception):
            _LOGGER.warning(
                "audit file %s is written again; %d record(s) were dropped before",
                self._path,
                dropped,
            )


class _WriteError(Exception):
    def __init__(self, detail: str, *, dropped: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.dropped = dropped


def _os_error(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "?")
    return f"{name}: {exc.strerror}"


def _open_append(path: str, *, durable: bool) -> int:
    flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC
    try:
        try:
            # O_EXCL tells us whether we created it; the mode applies to a new file only, so
            # an existing file's mode is never widened (nor narrowed behind the operator).
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
            created = True
        except FileExistsError:
            fd = os.open(path, flags)
            created = False
    except OSError as exc:
        raise VectorVueConfigError("audit_file", f"cannot open {path}: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise VectorVueConfigError("audit_file", f"{path} is not a regular file")
        if created and durable:
            # A new file's name lives in its directory: without this flush a power loss can
            # lose the file (and its fsynced records) altogether.
            _fsync_directory(os.path.dirname(os.path.abspath(path)))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _fsync_directory(directory: str) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise VectorVueConfigError(
            "audit_file", f"cannot flush directory {directory}: {exc.strerror}"
        ) from None


def _resume(fd: int, path: str) -> ChainHead:
    """The head of the chain in the open file, from its last line only."""
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return GENESIS
        if os.pread(fd, 1, size - 1) != b"\n":
            problem = "its last line is incomplete (no newline: a crash mid-write?)"
        else:
            line = _last_line(fd, size)
            if line is None:
                problem = f"its last line is longer than {MAX_LINE_BYTES} bytes"
            else:
                try:
                    return continue_after(line)
                except ValueError as exc:
                    problem = f"its last line is not a valid audit line ({exc})"
    except OSError as exc:
        raise VectorVueConfigError("audit_file", f"cannot read {path}: {exc.strerror}") from None
    raise VectorVueConfigError("audit_file", f"{path}: {problem}; {_MOVE_ASIDE}")


def _last_line(fd: int, size: int) -> bytes | None:
    """The last line without its newline (the file ends with one), read backwards in chunks;
    None when it is longer than any line the sink writes."""
    end = size - 1  # the final newline
    start = end
    parts: list[bytes] = []
    while start > 0:
        step = min(_TAIL_CHUNK, start)
        chunk = os.pread(fd, step, start - step)
        if len(chunk) != step:
            raise OSError(errno.EIO, "the file shrank while it was read")
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            parts.append(chunk[cut + 1 :])
            break
        parts.append(chunk)
        start -= step
        if end - start > MAX_LINE_BYTES:
            return None
    return b"".join(reversed(parts))
