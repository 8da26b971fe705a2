"""The outbox file as the operating system sees it (ADR 0015): its directories and modes,
what its first 100 bytes must say, and the flock that makes one process its owner.

Nothing here writes to a file it has not recognised as an outbox: a foreign or damaged
file is refused after reading its header, before any SQLite connection touches it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from typing import Final

from vectorvue_client.domain.errors import VectorVueOutboxError

# "VVOB" (VectorVue OutBox) in the header's application_id field, so `file` and any SQLite
# tool can tell an outbox from another application's database.
APPLICATION_ID: Final = 0x5656_4F42

_HEADER: Final = b"SQLite format 3\x00"
_EFFECTIVE: Final = os.access in os.supports_effective_ids

# Rules shared with outbox_sqlite_schema's messages.
WRITABLE: Final = (
    "the directory and the file must be writable by this user (SQLite creates its -wal "
    "and -shm files beside the outbox, and the owner lock is <file>.lock)"
)
LEFT_ALONE: Final = "it was left as it is: choose another outbox path, or move the file aside"


def make_parents(path: str) -> list[str]:
    """Create the missing directories above `path`, each 0o700 (the outbox holds findings);
    returns those created, outermost first. Existing directories are left as they are."""
    missing: list[str] = []
    directory = os.path.dirname(path)
    while not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    created: list[str] = []
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)  # os.makedirs would give parents the umask's mode
        except FileExistsError:
            continue
        except OSError as exc:
            raise VectorVueOutboxError(
                path, f"cannot create its directory {directory} ({_os_error(exc)})"
            ) from None
        created.append(directory)
    return created


def check_directory(path: str) -> None:
    """The directory must let us create files: SQLite makes its -wal and -shm there."""
    directory = os.path.dirname(path)
    # effective_ids: the ids the process acts with, which a setuid program may have changed.
    if not os.access(directory, os.W_OK | os.X_OK, effective_ids=_EFFECTIVE):
        raise VectorVueOutboxError(path, f"its directory {directory} is not writable: {WRITABLE}")


def inspect(path: str) -> bool:
    """True when `path` is a non-empty outbox file we may write; False when there is no file
    (or an empty one). A foreign, damaged, unreadable or read-only file is an error."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise VectorVueOutboxError(path, f"cannot read it ({_os_error(exc)})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise VectorVueOutboxError(path, f"it is not a regular file; {LEFT_ALONE}")
        header = os.pread(fd, 100, 0)
    except OSError as exc:
        raise VectorVueOutboxError(path, f"cannot read it ({_os_error(exc)})") from None
    finally:
        os.close(fd)
    if not header:
        return False
    if len(header) < 100 or not header.startswith(_HEADER):
        raise VectorVueOutboxError(path, f"it is not an SQLite database; {LEFT_ALONE}")
    application_id = int.from_bytes(header[68:72], "big")
    if application_id != APPLICATION_ID:
        raise VectorVueOutboxError(
            path,
            f"it is an SQLite database of another application (application_id "
            f"{application_id:#010x}), not a vectorvue-client outbox; {LEFT_ALONE}",
        )
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CLOEXEC))
    except OSError as exc:
        raise VectorVueOutboxError(
            path, f"the file is read-only for this user ({_os_error(exc)}): {WRITABLE}"
        ) from None
    return True


def lock(path: str) -> int:
    """Take the owner lock, <path>.lock, and write our pid into it.

    flock, not SQLite's own locks: it is held for the life of the object, not of a
    transaction, and the kernel drops it when the process dies, even by kill -9.
    """
    lock_path = path + ".lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise VectorVueOutboxError(
            path, f"cannot open its lock file {lock_path} ({_os_error(exc)}): {WRITABLE}"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        os.close(fd)
        if holder == os.getpid():
            who = f"it is already open in this process (pid {holder}): close it first"
        else:
            pid = f"pid {holder}" if holder else "its pid is not known yet"
            who = f"it is in use by another process ({pid})"
        raise VectorVueOutboxError(
            path, f"{who}; one process owns an outbox at a time: give each its own path"
        ) from None
    except OSError as exc:
        os.close(fd)
        raise VectorVueOutboxError(
            path, f"cannot lock {lock_path} ({_os_error(exc)}): use a local filesystem"
        ) from None
    # Only a hint for the next contender's message: a failure to write it is not fatal.
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def create_file(path: str) -> bool:
    """Create the database file 0o600; False if it appeared since inspect (then it is
    inspected again: we hold the lock now, so no outbox is being created under us)."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        inspect(path)
        return False
    except OSError as exc:
        raise VectorVueOutboxError(
            path, f"cannot create it ({_os_error(exc)}): {WRITABLE}"
        ) from None
    return True


def fsync_directory(path: str, directory: str) -> None:
    """Flush `directory` itself: the names in it (the outbox's own) reach the disk."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise VectorVueOutboxError(
            path, f"cannot flush directory {directory} ({_os_error(exc)})"
        ) from None


def _os_error(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "?")
    return f"{name}: {exc.strerror}"
