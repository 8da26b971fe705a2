"""The HTTPS plumbing of LocalVectorVue: a threading HTTP/1.1 server with TLS, keep-alive,
request recording, the bundled nginx's 1 MiB cap on request bodies (its HTML 413, before the
body is read) and fault
application; what to answer is the business of the `routes` (one Route per path: the
telemetry gateway's endpoints, client events) and of IntegrationApi (everything else)."""

from __future__ import annotations

import contextlib
import select
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from vectorvue_client.testing.receiver_api import IntegrationApi
from vectorvue_client.testing.receiver_faults import FaultQueue, Framing, LoseReply, Stall
from vectorvue_client.testing.receiver_reply import MAX_BODY_BYTES, Reply, detail, too_large
from vectorvue_client.testing.receiver_tls import fingerprint

_WRITE_CHUNK = 64 * 1024
# How long a refused body is read and dropped before the connection is closed (see _discard).
_DISCARD_SECONDS = 2.0


type Handler = Callable[[str, str, Mapping[str, str], bytes, str | None], Reply]
type Admission = Callable[[str, str, Mapping[str, str], bytes, str | None], Reply | None]


@dataclass(frozen=True, slots=True)
class Route:
    """What answers one path: `handle(method, path, headers, body, client_cert)`, where
    `client_cert` is the SHA-256 (hex) of the certificate the connection presented. When an
    injected fault answers instead, `admit` (if any) runs first with the same arguments: a
    gateway uses up a request's (timestamp, nonce) before its backend can fail it, and so
    must the fault; a request `admit` refuses gets that answer (the fault is used up)."""

    handle: Handler
    admit: Admission | None = None


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as LocalVectorVue received it; header names are lower-cased."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    peer: tuple[str, int]  # the client's address: the same port means a reused connection
    # SHA-256 (64 lowercase hex) of the DER of the client certificate the TLS connection
    # presented; None when it presented none.
    client_cert_sha256: str | None = None


class TlsServer(ThreadingHTTPServer):
    """HTTPS on `port` of 127.0.0.1 (0: an ephemeral one), one thread per connection;
    `log`, when given, is told of each answer sent: the request and its status."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        context: ssl.SSLContext,
        api: IntegrationApi,
        routes: Mapping[str, Route],
        faults: FaultQueue,
        record: Callable[[RecordedRequest], None],
        stopping: threading.Event,
        *,
        port: int = 0,
        log: Callable[[RecordedRequest, int], None] | None = None,
    ) -> None:
        self.context = context
        self.api = api
        self.routes = dict(routes)
        self.faults = faults
        self.record = record
        self.stopping = stopping
        self.log = log
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup (getfqdn), which can take seconds."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept a connection; its TLS handshake is done later, in its own thread, so a
        client that never completes one cannot block the accept loop."""
        sock, address = self.socket.accept()
        # Headers and body go out in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every keep-alive response.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wrapped = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return wrapped, address

    def track(self, conn: socket.socket, *, add: bool) -> None:
        """Keep (or forget) an open connection, so that stop can drop it."""
        with self._connections_lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def drop_connections(self) -> None:
        """Shut down every open connection: wakes threads waiting on idle keep-alives."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about network errors (clients hanging up, failed handshakes, injected
        resets are all expected); report anything else, which is a bug."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def _linger(conn: ssl.SSLSocket) -> None:
    """After a failed handshake (say, no client certificate), let the client read the alert
    OpenSSL sent: closing with its data unread would send a reset, which can destroy the
    alert before the client reads it (it would see an EOF or a reset, not the reason). So
    send a FIN, then read and drop what it sent until it hangs up, for at most a second."""
    deadline = time.monotonic() + 1.0
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_WR)  # also drops the TLS layer: recv reads raw bytes
        while (left := deadline - time.monotonic()) > 0:
            conn.settimeout(left)
            if not conn.recv(_WRITE_CHUNK):
                break


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LocalVectorVue/1"
    timeout = 10  # an idle keep-alive connection is dropped after this
    server: TlsServer
    request: ssl.SSLSocket

    client_cert: str | None = None
    recorded: RecordedRequest | None = None  # the request being served, once read

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        try:
            self.request.do_handshake()
        except ssl.SSLError:
            _linger(self.request)
            raise
        der = self.request.getpeercert(binary_form=True)
        self.client_cert = fingerprint(der) if der else None
        self.server.track(self.request, add=True)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.request, add=False)

    def version_string(self) -> str:
        """The Server header."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read the recorded requests, not stderr."""

    def handle_one_request(self) -> None:
        """Serve one request of the connection (keep-alive serves several)."""
        self.recorded = None
        super().handle_one_request()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Tell the server's log hook how the request was answered (send_response calls
        this once per answer). A request refused before it was read (a malformed request
        line, an unknown method) is told as far as it was parsed, without headers or body."""
        if self.server.log is None:
            return
        request = self.recorded
        if request is None:
            peer = (str(self.client_address[0]), int(self.client_address[1]))
            path = getattr(self, "path", "")
            request = RecordedRequest(self.command or "-", path, {}, b"", peer, self.client_cert)
        self.server.log(request, int(code))

    def do_GET(self) -> None:
        """Serve a GET."""
        self._serve()

    def do_POST(self) -> None:
        """Serve a POST."""
        self._serve()

    def handle_expect_100(self) -> bool:
        """Refuse an oversized body before the client sends it, not after."""
        if self._declared_length() > MAX_BODY_BYTES:
            return True  # no "100 Continue": _serve answers 413 straight away
        return super().handle_expect_100()

    def _declared_length(self) -> int:
        try:
            return int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return -1

    def _serve(self) -> None:
        length = self._declared_length()
        headers = {name.lower(): value for name, value in self.headers.items()}
        peer = (str(self.client_address[0]), int(self.client_address[1]))
        early = None
        if length < 0:
            early = detail(400, "Invalid Content-Length")
        elif "transfer-encoding" in headers:  # only Content-Length framing is supported
            early, length = detail(411, "Length Required"), MAX_BODY_BYTES
        elif length > MAX_BODY_BYTES:
            early = too_large()  # the bundled nginx's, before the app sees anything
        if early is not None:  # the body is never read, so the connection cannot be reused
            self.recorded = RecordedRequest(
                self.command, self.path, headers, b"", peer, self.client_cert
            )
            self.server.record(self.recorded)
            self.respond(early.status, early.body, early.headers or {}, announce_close=True)
            self._discard(length)
            self.close_connection = True
            return
        body = self.rfile.read(length) if length > 0 else b""
        self.recorded = RecordedRequest(
            self.command, self.path, headers, body, peer, self.client_cert
        )
        self.server.record(self.recorded)
        path = self.path.partition("?")[0]
        fault = self.server.faults.take(path)
        processed = fault is None or isinstance(fault, (Stall, LoseReply))
        route = self.server.routes.get(path)
        if route is not None and route.admit is not None and not processed:
            denied = route.admit(self.command, path, headers, body, self.client_cert)
            if denied is not None:
                self._reply(denied)
                return
        if fault is not None and fault.apply(self, self.server.stopping):
            return
        if route is not None:
            reply = route.handle(self.command, path, headers, body, self.client_cert)
        else:
            reply = self.server.api.handle(self.command, self.path, headers, body)
        if isinstance(fault, LoseReply):
            self.reset()
            return
        self._reply(reply)

    def _reply(self, reply: Reply) -> None:
        self.respond(reply.status, reply.body, reply.headers or {}, close=reply.close)

    def _discard(self, length: int) -> None:
        """Read and drop up to `length` bytes the client may still be sending, for at most
        _DISCARD_SECONDS: closing with unread data makes the kernel send a reset, and a
        client still writing its body would see that instead of the answer."""
        deadline = time.monotonic() + _DISCARD_SECONDS
        with contextlib.suppress(OSError, ValueError):
            while length > 0 and (left := deadline - time.monotonic()) > 0:
                self.request.settimeout(left)
                chunk = self.rfile.read1(min(length, _WRITE_CHUNK))
                if not chunk:
                    break
                length -= len(chunk)

    def respond(
        self,
        status: int,
        body: bytes,
        headers: Mapping[str, str],
        *,
        close: bool = False,
        announce_close: bool = False,
        late_close: bool = False,
        framing: Framing = "length",
    ) -> None:
        """Send a response framed by Content-Length or chunked transfer coding (keep-alive
        needs one of them); an "endless" one is chunked and never finished."""
        chunked = framing != "length"
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in {"content-length", "connection", "transfer-encoding"}:
                self.send_header(name, value)
        if announce_close:
            self.send_header("Connection", "close")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for start in range(0, len(body), _WRITE_CHUNK):
                piece = body[start : start + _WRITE_CHUNK]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if framing == "chunked":
                self.wfile.write(b"0\r\n\r\n")
            elif framing == "endless":
                self.request.recv(1)  # returns when the client hangs up (or times out)
                close = True
        except OSError:  # the client stopped reading (a capped body): nothing more to do
            close = True
        if close and late_close:
            with contextlib.suppress(OSError):  # wait for the next request, left unread
                select.select([self.request], [], [], self.timeout)
        if close:
            self.close_connection = True

    def reset(self) -> None:
        """Close with SO_LINGER 0, so the kernel sends a RST rather than a FIN."""
        self.close_connection = True
        self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # it holds a reference that would keep the socket open
        self.request.close()
