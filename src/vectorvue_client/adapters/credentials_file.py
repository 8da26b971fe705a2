"""CredentialSource from a mounted secret file (Kubernetes or Docker secrets style)."""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Callable
from typing import Final

from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.domain.redaction import Secret
from vectorvue_client.log_scrub import scrub_logger

# A credential is a few hundred bytes at most; a bigger file is the wrong file (a log, a
# certificate bundle, a device), and reading it whole would cost memory for nothing.
MAX_CREDENTIAL_FILE_BYTES: Final = 64 * 1024

_LOGGER = scrub_logger(logging.getLogger("vectorvue_client.credentials"))


class FileCredentialSource:
    """Reads the credential from the file at `path` at every `get`, so a rotated secret is
    picked up (wrap it in CachedCredentialSource to read less often).

    One trailing newline ("\\n" or "\\r\\n", as `echo` and editors leave) is stripped and
    nothing else: any other whitespace is part of the value. Errors name `field` and the
    path, never the content. A file that group or others may read or write is served, but
    `warn` is told once per instance (the path and the mode, never the content).

    Symlinks are followed. Kubernetes mounts every secret key as a symlink into a
    timestamped directory (`key -> ..data/key`, `..data -> ..2026_11_25_...`) and swaps
    `..data` atomically on rotation, so refusing links would refuse the main deployment.
    Following them costs nothing in safety: whoever can plant a link in the secret's
    directory can as well replace the file itself. What the link points at must still be
    a regular file, and the size and mode checks apply to that file (fstat of the
    descriptor actually read, so a swap between a check and the read cannot slip by).
    """

    def __init__(self, path: str, *, field: str, warn: Callable[[str], None] | None = None) -> None:
        self._path = path
        self._field = field
        self._warn = warn if warn is not None else _LOGGER.warning
        self._warned = False
        self._lock = threading.Lock()

    def get(self) -> Secret:
        """The credential; VectorVueConfigError naming the setting and the path when the
        file is missing, unreadable, not a regular file, too large, not UTF-8 or blank."""
        raw = self._read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self._error("is not valid UTF-8 text") from None
        if text.endswith("\r\n"):
            text = text[:-2]
        elif text.endswith("\n"):
            text = text[:-1]
        if not text.strip():
            raise self._error("is empty: write the credential into it")
        return Secret(text)

    def invalidate(self) -> None:
        """A no-op: nothing is kept in memory, every `get` reads the file."""

    def _read(self) -> bytes:
        # No O_NOFOLLOW: Kubernetes secret mounts are symlinks (see the class docstring).
        # O_NONBLOCK: opening a FIFO planted at the path would otherwise block until a
        # writer comes; on a regular file the flag changes nothing.
        flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK
        try:
            fd = os.open(self._path, flags)
        except FileNotFoundError:
            raise self._error("does not exist: check the path and the secret mount") from None
        except OSError as exc:
            # strerror, not str(exc): the path is already in the message, once is enough.
            raise self._error(f"cannot be opened ({exc.strerror})") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise self._error("is not a regular file")
            if info.st_size > MAX_CREDENTIAL_FILE_BYTES:
                raise self._error(f"is larger than {MAX_CREDENTIAL_FILE_BYTES} bytes")
            self._check_mode(info.st_mode)
            # One byte more than the cap: a file that grew after fstat is still refused.
            with os.fdopen(fd, "rb", closefd=False) as handle:
                raw = handle.read(MAX_CREDENTIAL_FILE_BYTES + 1)
        except OSError as exc:
            raise self._error(f"cannot be read ({exc.strerror})") from None
        finally:
            os.close(fd)
        if len(raw) > MAX_CREDENTIAL_FILE_BYTES:
            raise self._error(f"is larger than {MAX_CREDENTIAL_FILE_BYTES} bytes")
        return raw

    def _check_mode(self, mode: int) -> None:
        if not mode & 0o077:
            return
        with self._lock:
            if self._warned:
                return
            self._warned = True
        self._warn(
            f"credential file {self._path} (setting {self._field}) has mode "
            f"{stat.S_IMODE(mode):04o}: group or others may read or write it; restrict it "
            "to its owner (chmod 600, or defaultMode 0400 on a Kubernetes secret volume)"
        )

    def _error(self, rule: str) -> VectorVueConfigError:
        return VectorVueConfigError(self._field, f"credential file {self._path} {rule}")
