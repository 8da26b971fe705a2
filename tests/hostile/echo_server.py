"""EchoServer: a hostile VectorVue over real HTTPS on 127.0.0.1 that answers each request
with whatever a test scripts, typically a secret the client holds, echoed bare.

It accepts a client certificate signed by its CA (the telemetry gateway's mutual TLS) but
requires none, and records every request. The script is a function of the request: it may
read the request (the login body, the bearer token) and state the test shares with it.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import trustme


@dataclass(frozen=True, slots=True)
class Seen:
    """A request as the server received it; header names lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer: a status, raw body bytes and extra headers."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, value: Any, headers: Mapping[str, str] | None = None) -> Reply:
        """A JSON answer."""
        return cls(status, json.dumps(value).encode(), dict(headers or {}))

    @classmethod
    def text(cls, status: int, text: str) -> Reply:
        """A plain-text answer (a proxy's, or a framework's 500)."""
        return cls(status, text.encode(), content_type="text/plain")


type Script = Callable[[Seen], Reply]


class EchoServer:
    """The server, as a context manager; `script` may be replaced while it runs."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Seen] = []
        self.ca = trustme.CA()
        self._tmp = Path(tempfile.mkdtemp(prefix="echo-server-"))
        self.ca_pem_path = str(self._tmp / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_pem_path)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self.ca.configure_trust(context)
        context.verify_mode = ssl.CERT_OPTIONAL
        self._server = _Server(context, self)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def issue_client_cert(self, common_name: str) -> tuple[str, str]:
        """A client certificate and key signed by this server's CA, as PEM file paths."""
        leaf = self.ca.issue_cert(common_name=common_name)
        cert, key = self._tmp / "client.cert.pem", self._tmp / "client.key.pem"
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        leaf.private_key_pem.write_to_path(str(key))
        return str(cert), str(key)

    def answer(self, seen: Seen) -> Reply:
        """Record the request and answer it as scripted."""
        self.requests.append(seen)
        return self.script(seen)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        shutil.rmtree(self._tmp, ignore_errors=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, context: ssl.SSLContext, owner: EchoServer) -> None:
        self.context, self.owner, self.lock = context, owner, threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # Skip HTTPServer's reverse DNS lookup of the address (it can take seconds).
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()

    def get_request(self) -> tuple[socket.socket, Any]:
        # The handshake happens in the connection's thread (see _Handler.setup).
        sock, address = self.socket.accept()
        tls = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return tls, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet about network errors; anything else is a bug of the server, reported."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    request: ssl.SSLSocket

    def setup(self) -> None:
        self.request.settimeout(5)
        self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `EchoServer.requests`."""

    def do_GET(self) -> None:
        """Serve a GET."""
        self._serve()

    def do_POST(self) -> None:
        """Serve a POST."""
        self._serve()

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        with self.server.lock:
            reply = self.server.owner.answer(Seen(self.command, self.path, headers, body))
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)
