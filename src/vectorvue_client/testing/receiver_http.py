"""The HTTPS plumbing of LocalVectorVue: a threading HTTP/1.1 server with TLS, keep-alive,
request recording and fault application; what to answer is IntegrationApi's business."""

from __future__ import annotations

import contextlib
import select
import socket
import socketserver
import ssl
import struct
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from vectorvue_client.testing.receiver_api import IntegrationApi
from vectorvue_client.testing.receiver_faults import FaultQueue, Framing

_WRITE_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as LocalVectorVue received it; header names are lower-cased."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    peer: tuple[str, int]  # the client's address: the same port means a reused connection


class TlsServer(ThreadingHTTPServer):
    """HTTPS on an ephemeral port of 127.0.0.1, one thread per connection."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        context: ssl.SSLContext,
        api: IntegrationApi,
        faults: FaultQueue,
        record: Callable[[RecordedRequest], None],
        stopping: threading.Event,
    ) -> None:
        self.context = context
        self.api = api
        self.faults = faults
        self.record = record
        self.stopping = stopping
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LocalVectorVue/1"
    timeout = 10  # an idle keep-alive connection is dropped after this
    server: TlsServer
    request: ssl.SSLSocket

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        self.request.do_handshake()
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

    def do_GET(self) -> None:
        """Serve a GET."""
        self._serve()

    def do_POST(self) -> None:
        """Serve a POST."""
        self._serve()

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.respond(400, b'{"detail":"Invalid Content-Length"}', {}, close=True)
            return
        body = self.rfile.read(length) if length > 0 else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        peer = (str(self.client_address[0]), int(self.client_address[1]))
        self.server.record(RecordedRequest(self.command, self.path, headers, body, peer))
        fault = self.server.faults.take(self.path.partition("?")[0])
        if fault is not None and fault.apply(self, self.server.stopping):
            return
        reply = self.server.api.handle(self.command, self.path, headers, body)
        self.respond(reply.status, reply.body, reply.headers or {}, close=reply.close)

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
