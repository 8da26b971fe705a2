"""AuditSink onto an append-only, hash-chained JSON Lines file (ADR 0009)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
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
from vectorvue_client.log_scrub import scrub_logger

_LOGGER: Final = scrub_logger(logging.getLogger("vectorvue_client.audit"))
_TAIL_CHUNK: Final = 64 * 1024
_MOVE_ASIDE: Final = (
    "run vectorvue_client.verify_audit_chain on it, then move it aside (writers then start "
    "a new file at that path): an audit file is never rewritten or truncated"
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

    Many writers, one chain: any number of sinks, in any number of processes on one host,
    may append to one file (through its path, a symlink or a hard link). Each record is
    written under an exclusive flock on the file itself; a sink that finds the file grown
    since its last line continues the chain from the line another writer appended. The
    kernel drops the lock of a process that dies, however it dies. If the file ends with a
    line no writer finished (a writer killed mid-write) or a line that is not a chain line,
    the sink writes nothing after it and logs why: it never buries damage under new lines.
    The sink follows its path: once the file is moved aside or deleted, the next record
    starts a new chain in a new file at that path. On a local filesystem only (ADR 0009).

    record() is thread-safe and never raises, but it waits while another writer holds the
    lock; a failed write is logged on the `vectorvue_client.audit` logger at ERROR, once
    per run of failures.
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
        self._fd = _open_append(self._path, durable=self._durable)
        # The process whose open file description self._fd is: a forked child must not
        # write through it (see _append).
        self._pid = os.getpid()
        try:
            self._file = _identity(self._fd)  # the inode written to, to compare with the path's
            head, self._end = _resume(self._fd, self._path)
        except BaseException:
            os.close(self._fd)
            raise
        self._head = head

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
        # Order: the thread lock (held by record()), then the file lock, never the other way
        # round; and never two files' locks at once (see _follow_path): no deadlock between
        # threads, sinks of one process (whose descriptors' flocks conflict like any two
        # processes'), or processes.
        if self._fd < 0:
            raise _WriteError("record not written: the sink is closed", dropped=True)
        if self._pid != os.getpid():
            # A child forked after the sink was opened shares its open file description
            # with the parent, and flock locks belong to the description: the two would
            # both hold "the" lock at once. The child writes through its own.
            self._reopen()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                self._write(record, self._follow_path())
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        except OSError as exc:
            raise _WriteError(f"record not written ({_os_error(exc)})", dropped=True) from None
        if self._durable:
            # After the unlock: fsync flushes every line written to the file so far, ours and
            # all before it, so the promise holds without making the other writers wait for
            # our flush. The thread lock is still held: record() returns after the flush.
            try:
                os.fsync(self._fd)
            except OSError as exc:
                detail = (
                    f"record written but fsync failed ({_os_error(exc)}): it may not survive "
                    "a power loss"
                )
                raise _WriteError(detail, dropped=False) from None

    def _follow_path(self) -> int:
        """The size of the open file, after reopening the path if it now names another file.

        Holds the file lock on return. A file moved aside (rotation), deleted or replaced is
        left as it is; the next record goes to the file at the configured path, which every
        writer then shares. Any other failure to look the path up keeps the open file.
        """
        try:
            named = os.stat(self._path)
        except FileNotFoundError:
            pass
        except OSError:
            return os.fstat(self._fd).st_size
        else:
            if (named.st_dev, named.st_ino) == self._file:
                return named.st_size  # the open file itself, read under its lock
        # Let go of this file before waiting for the next one's lock: a writer never holds
        # one lock while it waits for another, so two writers cannot wait for each other.
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._reopen()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return os.fstat(self._fd).st_size

    def _reopen(self) -> None:
        try:
            fd = _open_append(self._path, durable=self._durable)
        except VectorVueConfigError as exc:
            raise _WriteError(f"record not written: {exc.rule}", dropped=True) from None
        old, self._fd = self._fd, fd
        # Closed, not unlocked: in a forked child the lock on the shared description may be
        # the parent's, held right now by one of its threads.
        os.close(old)
        self._pid = os.getpid()
        self._file = _identity(fd)
        self._end = -1  # nothing is known of this file yet: _write reads its head

    def _write(self, record: AuditRecord, size: int) -> None:
        """Append the record's line to the file of `size` bytes; the caller holds its lock."""
        if size != self._end:
            # Under the lock only another sink can have moved the end since our last line
            # (or a newly opened file is read for the first time): its last line is the head.
            head = _head_at_end(self._fd, size)
            if isinstance(head, str):
                # self._end stays as it was, so every later record looks again, and none is
                # glued to a cut line or chained after a foreign one.
                raise _WriteError(f"record not written: {head}; {_MOVE_ASIDE}", dropped=True)
            self._head, self._end = head, size
        line = chain_line(record, seq=self._head.seq, prev=self._head.prev)
        data = line + b"\n"
        # One write() on an O_APPEND descriptor, under the lock: the whole line lands at the
        # end, after every line another sink wrote, and a crash leaves at most one cut final
        # line (which verify reports, and after which no sink appends).
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
        # The line is in the file: the chain moves on even if the flush after it fails, or
        # the next line would repeat this seq.
        self._head = ChainHead(seq=self._head.seq + 1, prev=line_digest(line))
        self._end = size + written

    def _take_back(self, written: int) -> bool:
        # A partial line at the end would glue itself to the next line and break the chain
        # there; removing exactly the bytes this call added restores the last line boundary.
        # Under the file lock no other sink writes, so nothing another sink wrote is touched.
        try:
            os.ftruncate(self._fd, os.fstat(self._fd).st_size - written)
        except OSError:
            # The fragment stays at the end, where every sink (this one included) sees an
            # incomplete last line and refuses to append after it.
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


def _identity(fd: int) -> tuple[int, int]:
    opened = os.fstat(fd)
    return opened.st_dev, opened.st_ino


def _resume(fd: int, path: str) -> tuple[ChainHead, int]:
    """The head of the chain in the open file, from its last line only, and the file's size.

    Read under the file lock: another process's line half-copied into the file would look
    like a cut one.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(fd).st_size
            head = _head_at_end(fd, size)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError as exc:
        raise VectorVueConfigError("audit_file", f"cannot read {path}: {exc.strerror}") from None
    if isinstance(head, str):
        raise VectorVueConfigError("audit_file", f"{path}: {head}; {_MOVE_ASIDE}")
    return head, size


def _head_at_end(fd: int, size: int) -> ChainHead | str:
    """Where to append after the last line of a file of `size` bytes, or what is wrong with
    that line (appending after it would bury the damage in the middle of the file)."""
    if size == 0:
        return GENESIS
    if os.pread(fd, 1, size - 1) != b"\n":
        return "its last line is incomplete (no newline: a crash mid-write?)"
    line = _last_line(fd, size)
    if line is None:
        return f"its last line is longer than {MAX_LINE_BYTES} bytes"
    try:
        return continue_after(line)
    except ValueError as exc:
        return f"its last line is not a valid audit line ({exc})"


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
