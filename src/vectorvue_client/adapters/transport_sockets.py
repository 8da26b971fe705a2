"""The sockets of one exchange, for both HTTP transports: a wall-clock budget that every
blocking socket operation honours, a TLS refusal read before a hang-up is blamed on the
network, and the TLS context that makes such sockets.

- The budget. A socket timeout bounds one operation, so a server that trickles its status
  line, headers or body (or reads our body) a byte at a time holds an exchange for ever.
  `ExchangeBudget(total)` is entered by a transport's `send` for the whole exchange and
  kept in a `threading.local`: a pooled connection serves one thread's exchange at a
  time, and that thread's budget is the one its socket operations read. Each blocking
  operation of `BudgetedSSLSocket` (the TLS handshake, each read and write) and of
  `BudgetedSocket` (the plain socket of a proxy's CONNECT tunnel) waits at most the time
  left, and raises `ExchangeDeadlineExceeded` (a TimeoutError) when it is gone. The
  per-operation timeout urllib3 sets (connect, then read) still applies underneath: the
  shorter of the two wins. urllib3 closes a connection whose operation raised, so a
  connection cut off by the budget is never reused.
- The refusal. With TLS 1.3 the client's handshake completes before the server has
  looked at the client certificate; a server that wants one (and did not get it, or does
  not trust it) sends an alert and hangs up. A request written at that moment fails with
  an EOF, which would read as a lost connection and be retried. The alert is usually
  already in our receive buffer: `BudgetedSSLSocket` reads it then, and raises it instead.
- The context. `tls_context` is urllib3's client context built by hand (urllib3's own
  reads SSLKEYLOGFILE and, without a CA, the OS trust store), trusting the configured CA
  alone, making `BudgetedSSLSocket`s.

Not bounded by the budget: name resolution (getaddrinfo cannot be interrupted; a base URL
with an IP address needs none), and the connects to a name that resolves to several
addresses: each is given what was left before the first was tried.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

# Phases, for the failure detail: where the time went.
HANDSHAKE: Final = "in the TLS handshake"
WRITING: Final = "while writing the request"
READING: Final = "while reading the response"
CONNECTING: Final = "while connecting"
TUNNELLING: Final = "while opening the proxy's CONNECT tunnel"
# How much of a pending record a refusal probe reads: an alert is a few dozen bytes.
_PROBE_BYTES: Final = 4096
# Failures of a probe that say nothing about why the peer hung up.
_NOT_A_REFUSAL: Final = (
    ssl.SSLWantReadError,
    ssl.SSLWantWriteError,
    ssl.SSLSyscallError,
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
)


class _Exchange(threading.local):
    # (deadline on the monotonic clock, total) of this thread's exchange. A class default,
    # not getattr(..., None): a missing attribute costs an AttributeError per operation.
    budget: tuple[float, float] | None = None


_exchange = _Exchange()


class ExchangeDeadlineExceeded(TimeoutError):  # noqa: N818 - a TimeoutError, named as one
    """The wall-clock budget of the exchange ran out `phase` (a socket timeout, so urllib3
    closes the connection as it does after any timeout)."""

    def __init__(self, total: float, phase: str) -> None:
        self.total = total
        self.phase = phase
        super().__init__(f"the wall-clock budget of {total:g} s for the exchange ran out {phase}")


class ExchangeBudget:
    """`with ExchangeBudget(total):` around one exchange: the socket operations this thread
    makes inside it share `total` seconds of wall clock (None: no budget)."""

    __slots__ = ("_budget", "_saved")

    def __init__(self, total: float | None) -> None:
        self._budget = None if total is None else (time.monotonic() + total, total)
        self._saved: tuple[float, float] | None = None

    def __enter__(self) -> None:
        self._saved = _exchange.budget
        _exchange.budget = self._budget

    def __exit__(self, *_: object) -> None:
        _exchange.budget = self._saved


def seconds_left(phase: str) -> float | None:
    """What is left of this thread's budget (None: no budget); ExchangeDeadlineExceeded,
    naming `phase`, when nothing is."""
    budget = _exchange.budget
    if budget is None:
        return None
    left = budget[0] - time.monotonic()
    if left <= 0:
        raise ExchangeDeadlineExceeded(budget[1], phase)
    return left


def over_budget(phase: str) -> ExchangeDeadlineExceeded:
    """The error for this thread's budget, spent `phase` (asked while a budget is set)."""
    budget = _exchange.budget
    return ExchangeDeadlineExceeded(budget[1] if budget is not None else 0.0, phase)


def _within_budget[*Ts, R](
    sock: socket.socket, phase: str, operation: Callable[[*Ts], R], *args: *Ts
) -> R:
    """`operation` (a blocking call on `sock`) given no longer than the budget has left."""
    budget = _exchange.budget
    if budget is None:
        return operation(*args)
    deadline, total = budget
    left = deadline - time.monotonic()
    if left <= 0:
        raise ExchangeDeadlineExceeded(total, phase)
    base = sock.gettimeout()
    if base is not None and base <= left:  # the usual case: the per-operation timeout binds
        return operation(*args)
    sock.settimeout(left)
    try:
        return operation(*args)
    except TimeoutError as exc:  # the budget, not the per-operation timeout, ran out
        raise ExchangeDeadlineExceeded(total, phase) from exc
    finally:
        # The base timeout is urllib3's (its read timeout): later operations, and the next
        # exchange on this pooled connection, start from it again. A socket closed meanwhile
        # has nothing to restore.
        with contextlib.suppress(OSError):
            sock.settimeout(base)


class BudgetedSSLSocket(ssl.SSLSocket):
    """An SSLSocket whose blocking operations keep to the exchange's budget, and that
    reports a TLS refusal as one. recv, recv_into and sendall go through read and send."""

    def do_handshake(self, block: bool = False) -> None:
        """The handshake, within the budget."""
        _within_budget(self, HANDSHAKE, super().do_handshake, block)

    def read(self, len: int = 1024, buffer: WriteableBuffer | None = None) -> bytes:
        """A read, within the budget."""
        return _within_budget(self, READING, super().read, len, buffer)

    def send(self, data: ReadableBuffer, flags: int = 0) -> int:
        """A write, within the budget; a hang-up explained by a TLS alert raises the alert."""
        try:
            return _within_budget(self, WRITING, super().send, data, flags)
        except ssl.SSLEOFError as exc:
            lost = exc
        # Outside the except block: the alert must not carry the EOF as its context, or the
        # failure rules (which walk the whole chain) would still see a lost connection.
        raise self._refusal() or lost

    def write(self, data: ReadableBuffer) -> int:
        """A write, within the budget; as `send`."""
        try:
            return _within_budget(self, WRITING, super().write, data)
        except ssl.SSLEOFError as exc:
            lost = exc
        raise self._refusal() or lost

    def _refusal(self) -> ssl.SSLError | None:
        """The TLS alert the peer sent before hanging up, if it has already arrived; never
        waits. Only asked after a write failed with an EOF, which urllib3 does not swallow:
        whatever application data the probe reads would never have been read anyway.

        (A read needs no probe: the kernel hands over the bytes that came before a reset
        before it reports the reset, so OpenSSL meets the alert first.)"""
        try:
            base = self.gettimeout()
            self.settimeout(0.0)
        except OSError:
            return None
        try:
            super().read(_PROBE_BYTES)
        except _NOT_A_REFUSAL:
            return None
        except ssl.SSLError as alert:
            return alert
        except OSError:
            return None
        finally:
            with contextlib.suppress(OSError):
                self.settimeout(base)
        return None


class BudgetedSocket(socket.socket):
    """A plain socket whose blocking operations keep to the exchange's budget: the
    connection to a proxy, until TLS to the origin takes it over."""

    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        """A read, within the budget."""
        return _within_budget(self, TUNNELLING, super().recv, bufsize, flags)

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0) -> int:
        """A read into `buffer`, within the budget."""
        return _within_budget(self, TUNNELLING, super().recv_into, buffer, nbytes, flags)

    def send(self, data: ReadableBuffer, flags: int = 0, /) -> int:
        """A write, within the budget."""
        return _within_budget(self, TUNNELLING, super().send, data, flags)

    def sendall(self, data: ReadableBuffer, flags: int = 0, /) -> None:
        """A whole write, within the budget (one deadline for all of it)."""
        _within_budget(self, TUNNELLING, super().sendall, data, flags)


def budgeted(sock: socket.socket) -> BudgetedSocket:
    """`sock`, connected, as a BudgetedSocket (the same descriptor and timeout)."""
    timeout = sock.gettimeout()
    wrapped = BudgetedSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    wrapped.settimeout(timeout)
    return wrapped


class TlsSetupError(ValueError):
    """A CA bundle or client certificate that cannot be loaded; `setting` names the
    constructor argument ("verify" or "client_cert")."""

    def __init__(self, setting: str, rule: str) -> None:
        self.setting = setting
        self.rule = rule
        super().__init__(f"{setting}: {rule}")


def tls_context(ca: str | None, client_cert: tuple[str, str] | None) -> ssl.SSLContext:
    """urllib3's client context (the settings of create_urllib3_context, which also reads
    SSLKEYLOGFILE), trusting `ca` alone (None: no verification), with the client
    certificate loaded once, making BudgetedSSLSockets. A file that cannot be loaded raises
    TlsSetupError now rather than failing every send."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.sslsocket_class = BudgetedSSLSocket
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_SSLv2 | ssl.OP_NO_SSLv3 | ssl.OP_NO_COMPRESSION | ssl.OP_NO_TICKET
    if sys.version_info >= (3, 13):
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | ssl.VERIFY_X509_STRICT
    context.post_handshake_auth = True  # TLS 1.3 servers may ask for the certificate late
    if ca is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.verify_mode = ssl.CERT_REQUIRED
        context.check_hostname = True
        try:
            if os.path.isdir(ca):
                context.load_verify_locations(capath=ca)
            else:
                context.load_verify_locations(cafile=ca)
        except (OSError, ssl.SSLError) as exc:
            raise TlsSetupError("verify", f"the CA bundle {ca} cannot be loaded: {exc}") from exc
    context.hostname_checks_common_name = False
    if client_cert is not None:
        cert, key = client_cert
        try:
            context.load_cert_chain(cert, key, password=_refuse_passphrase)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise TlsSetupError(
                "client_cert", f"{cert} with key {key} cannot be loaded: {exc}"
            ) from exc
    return context


def _refuse_passphrase() -> str:
    # Without a callback OpenSSL would prompt for the passphrase on the terminal.
    raise ValueError("the key is encrypted, and no passphrase is configured")
