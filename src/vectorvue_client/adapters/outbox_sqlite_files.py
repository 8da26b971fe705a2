"""The outbox file as the operating system sees it (ADR 0015): its directories and modes,
what its first 100 bytes must say, and the flock on the file itself that makes one process
its owner.

Nothing here writes to a file it has not recognised as an outbox: a foreign or damaged
file is refused after reading its header, before any SQLite connection touches it.
"""

from __future__ import annotations

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
    "and -shm files beside the outbox)"
)
LEFT_ALONE: Final = "it was left as it is: choose another outbox path, or move the file aside"


# The files this process owns, by (device, inode). Closing any descriptor of a file drops
# every POSIX lock the process holds on it, SQLite's included: so once this process owns
# an outbox, nothing here opens that file again (a second owner or a reader in the same
# process is answered from this table instead).
_OWNED: Final[dict[tuple[int, int], str]] = {}


def owned_here(path: str) -> bool:
    """Whether this process owns the outbox file at `path` (by inode, any name)."""
    try:
        status = os.stat(path)
    except OSError:
        return False
    return (status.st_dev, status.st_ino) in _OWNED


def refuse_if_owned_here(path: str) -> None:
    """A second owner in this process is refused before the file is opened at all."""
    if owned_here(path):
        raise VectorVueOutboxError(
            path,
            f"the outbox is already open in this process (pid {os.getpid()}): close it "
            "first; one process owns an outbox at a time: give each its own path",
        )


def disown(fd: int) -> None:
    """Forget the file open as `fd` as owned (just before its lock is released)."""
    status = os.fstat(fd)
    _OWNED.pop((status.st_dev, status.st_ino), None)


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


def open_and_lock(path: str) -> tuple[int, bool]:
    """Open the database file itself (creating it 0o600 when missing) and take the owner
    lock on it; returns the descriptor holding the lock and whether the file was created.

    The lock is an exclusive flock on the file, not on a name beside it: every path that
    reaches the file (a symlink, a hard link, a bind mount) meets the same lock, and no
    file can be deleted to get around it. The kernel drops it when the process dies, even
    by kill -9. SQLite's own locks are POSIX record locks, which do not interact with
    flock on Linux; this descriptor must stay open until SQLite's connection is closed
    (closing any descriptor of a file drops every POSIX lock the process holds on it).
    """
    flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
            created = True
        except FileExistsError:
            fd = os.open(path, flags)
            created = False
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise VectorVueOutboxError(
                path, f"it is a symbolic link that appeared while it was opened; {LEFT_ALONE}"
            ) from None
        verb = "create" if exc.errno == errno.ENOENT else "open"
        raise VectorVueOutboxError(
            path, f"cannot {verb} it ({_os_error(exc)}): {WRITABLE}"
        ) from None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise VectorVueOutboxError(path, f"it is not a regular file; {LEFT_ALONE}")
        _flock(fd, path, "the outbox")
        # Checked once we own it: a link made later is refused at the next open.
        links = os.fstat(fd).st_nlink
        if links > 1:
            raise VectorVueOutboxError(
                path,
                f"it has {links} hard links: SQLite keeps its write-ahead "
                "log beside the name it was opened by, so two names would split the journal "
                "of one file; remove the other links and use one path",
            )
        _legacy_lock(path)
    except BaseException:
        os.close(fd)
        raise
    _OWNED[(status.st_dev, status.st_ino)] = path
    return fd, created


def _flock(fd: int, path: str, what: str) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = lock_holder(os.fstat(fd))
        if holder == os.getpid():
            who = f"{what} is already open in this process (pid {holder}): close it first"
        else:
            pid = f"pid {holder}" if holder else "its pid could not be read"
            who = f"{what} is in use by another process ({pid})"
        raise VectorVueOutboxError(
            path, f"{who}; one process owns an outbox at a time: give each its own path"
        ) from None
    except OSError as exc:
        raise VectorVueOutboxError(
            path, f"cannot lock it ({_os_error(exc)}): use a local filesystem"
        ) from None


def _legacy_lock(path: str) -> None:
    """Versions before 0.2 locked `<path>.lock` instead of the file. Where that file
    exists, an older client may be running on this outbox: it must not be held."""
    lock_path = path + ".lock"
    try:
        fd = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return  # none: no older client has used this outbox (or it cannot matter)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = lock_holder(os.fstat(fd))
        pid = f"pid {holder}" if holder else "its pid could not be read"
        raise VectorVueOutboxError(
            path,
            f"an older vectorvue-client ({pid}) holds {lock_path}: stop it before this "
            "version opens the outbox",
        ) from None
    except OSError:
        pass
    finally:
        # Only a check: released at once. An older client that starts later refuses the
        # file anyway, since its schema is newer than it knows.
        os.close(fd)


def lock_holder(status: os.stat_result) -> int | None:
    """The pid holding a flock on the file `status` describes, read from /proc/locks
    (Linux); None when none does, or it cannot be told."""
    try:
        wanted = f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            for line in locks:
                fields = line.split()
                # "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; waiters are "1: ->".
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted:
                    return int(fields[4]) if fields[4].isdigit() else None
    except OSError:
        return None
    return None


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
