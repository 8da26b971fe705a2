"""Hostile peers for the attack tests of tests/hostile: real sockets on 127.0.0.1, real TLS
with certificates made here (trustme), and a behaviour per connection that a test writes.

    def trickle_the_status_line(conn: socket.socket, peer: HostilePeer) -> None:
        tls = peer.tls(conn)
        read_request(tls)
        peer.trickle(tls, b"HTTP/1.1 200 OK\\r\\n" * 1000, every=0.1)

    with HostilePeer(trickle_the_status_line) as peer:
        transport = Urllib3Transport(peer.url, verify=peer.ca_path)
        ...

Every wait of a behaviour ends when the peer stops, so no test waits for a hostile peer to
finish what it would go on doing for ever. `PeerProcess` runs a peer script of this
directory in a process of its own, for races whose timing must be a real server's;
`PeerCertificates` makes the certificates of either kind of peer.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

import trustme

type Behaviour = Callable[[socket.socket, HostilePeer], None]

# How long a hostile peer goes on at most: far longer than any budget under test.
FOR_EVER_SECONDS = 30.0


class PeerCertificates:
    """A new trustme CA, its PEM (`ca_path`, for clients to trust), the PEM of a server
    certificate and key for 127.0.0.1 (`server_pem`), and client certificates on demand,
    in a temporary directory removed by `close` (or on leaving a `with`)."""

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self._server = self.ca.issue_cert("127.0.0.1")
        self._dir = Path(tempfile.mkdtemp(prefix="hostile-peer-"))
        self.ca_path = str(self._dir / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_path)
        self.server_pem = str(self._dir / "server.pem")
        self._server.private_key_and_cert_chain_pem.write_to_path(self.server_pem)
        self._issued = 0

    def server_context(self) -> ssl.SSLContext:
        """A server context presenting the server certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server.configure_cert(context)
        return context

    def issue_client_cert(self, *, ca: trustme.CA | None = None) -> tuple[str, str]:
        """(cert, key) PEM paths of a client certificate from `ca` (default: this CA)."""
        leaf = (ca or self.ca).issue_cert(common_name="spectrastrike-producer")
        self._issued += 1
        cert = self._dir / f"client-{self._issued}.cert.pem"
        key = self._dir / f"client-{self._issued}.key.pem"
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        leaf.private_key_pem.write_to_path(str(key))
        return str(cert), str(key)

    def close(self) -> None:
        """Remove the files."""
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class HostilePeer:
    """A listener on 127.0.0.1 that hands each accepted connection, in a thread of its own,
    to `behaviour`; a context manager. `tls` shakes hands as a server with a certificate
    for 127.0.0.1 from a new CA, whose PEM `ca_path` is, for clients to trust.
    `accept=False` never accepts: connections queue in the backlog of `backlog`."""

    def __init__(self, behaviour: Behaviour, *, accept: bool = True, backlog: int = 64) -> None:
        self.behaviour = behaviour
        self.stopping = threading.Event()
        self.certificates = PeerCertificates()
        self.ca_path = self.certificates.ca_path
        self.context = self.certificates.server_context()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=backlog)
        self.url = f"https://127.0.0.1:{self._listener.getsockname()[1]}"
        self._accept = accept
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._mine = threading.local()  # the sockets of the connection this thread serves
        self.connections = 0  # accepted so far

    def tls(self, conn: socket.socket, *, handshake: bool = True) -> ssl.SSLSocket:
        """`conn` as a server-side TLS socket, after its handshake (which raises if it
        fails) unless `handshake` is False. It is closed with the connection."""
        conn.settimeout(FOR_EVER_SECONDS)
        tls = self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        self._mine.sockets.append(tls)
        with self._lock:
            self._open.add(tls)
        if handshake:
            tls.do_handshake()
        return tls

    def ticks(self, every: float) -> Iterator[None]:
        """Yields every `every` seconds, until the peer stops or FOR_EVER_SECONDS pass."""
        end = time.monotonic() + FOR_EVER_SECONDS
        while time.monotonic() < end and not self.stopping.wait(every):
            yield

    def trickle(self, sock: socket.socket, data: Iterable[int], *, every: float) -> None:
        """Send `data` one byte every `every` seconds, until it ends, the client hangs up,
        or the peer stops or has gone on for FOR_EVER_SECONDS."""
        for byte, _ in zip(data, self.ticks(every), strict=False):
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return

    def hold(self) -> None:
        """Wait, doing nothing, until the peer stops."""
        self.stopping.wait(FOR_EVER_SECONDS)

    def __enter__(self) -> Self:
        if self._accept:
            self._spawn(self._serve)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):  # wakes a blocked accept() (close alone does not)
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            open_now = list(self._open)
        for conn in open_now:  # wakes behaviours blocked on a read
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
        self.certificates.close()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.add(conn)
            self._spawn(self._run, conn)

    def _run(self, conn: socket.socket) -> None:
        self._mine.sockets = [conn]
        try:
            self.behaviour(conn, self)
        except (OSError, ValueError):
            pass  # the client hung up, or the peer stopped under the behaviour's feet
        finally:
            for sock in self._mine.sockets:
                with self._lock:
                    self._open.discard(sock)
                sock.close()


class PeerProcess:
    """A hostile peer in a process of its own: `python <script> <args>` from this
    directory, which prints the port it listens on (127.0.0.1) and serves until killed;
    a context manager. For races: a peer thread would share the client's GIL, which would
    decide the race in its stead; a real server runs beside the client."""

    def __init__(self, script: str, *args: str) -> None:
        self._command = [sys.executable, str(Path(__file__).with_name(script)), *args]
        self.url = ""

    def __enter__(self) -> Self:
        self._process = subprocess.Popen(  # noqa: S603 - our own script, with our arguments
            self._command, stdout=subprocess.PIPE, text=True
        )
        assert self._process.stdout is not None
        port = self._process.stdout.readline().strip()
        if not port.isdigit():
            self._stop()
            raise RuntimeError(f"{self._command[1]} did not start (printed {port!r})")
        self.url = f"https://127.0.0.1:{port}"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        self._process.kill()
        self._process.wait(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()


def read_head(sock: socket.socket) -> bytes:
    """Everything up to and including the blank line that ends a request's (or a CONNECT
    request's) head; b"" when the client hangs up first."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            return b""
        head += chunk
    return head


def read_request(sock: socket.socket) -> bytes:
    """One request, its body read by its Content-Length; b"" when the client hangs up."""
    head = read_head(sock)
    end = head.index(b"\r\n\r\n") + 4 if head else 0
    body = head[end:]
    length = 0
    for line in head[:end].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        body += chunk
    return head


# The integration API's answer to an accepted item.
ACCEPTED = (
    b'{"request_id":"00000000-0000-0000-0000-000000000000",'
    b'"status":"accepted","data":{},"errors":[]}'
)


def respond(sock: socket.socket, status: bytes = b"200 OK", body: bytes = ACCEPTED) -> None:
    """A complete answer with a JSON body, on a connection kept alive."""
    sock.sendall(
        b"HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (status, len(body), body)
    )


def abort(sock: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0) rather than a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
