"""FakeVault: the few endpoints of HashiCorp Vault's documented HTTP API that the Vault
credential source uses, over real HTTPS on 127.0.0.1 (no Vault server can be installed on
these machines; see ADR 0008 for what testing against this fake proves and what not).

- `GET /v1/{mount}/data/{path}` (KV v2 read): 200 with the secret; 403 on a missing, bad
  or revoked X-Vault-Token; 404 `{"errors": []}` for no secret; 404 with the metadata and
  `"data": null` for a deleted version, as Vault answers.
- `POST /v1/auth/{approle_mount}/login` (AppRole): 200 with `auth.client_token`, or 400.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from secrets import token_hex, token_urlsafe
from types import TracebackType
from typing import Any, Self

import trustme

_CREATED = "2026-11-25T12:00:00.000000Z"


@dataclass(frozen=True, slots=True)
class Seen:
    """A request as the fake received it; header names lower-cased."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class FakeVault:
    """A fake Vault over HTTPS on an ephemeral port; a context manager.

    Test code mutates the state directly: `secrets[(mount, path)]` (the KV data),
    `deleted` (paths whose latest version is deleted), `tokens` (the valid ones),
    `approles` (role_id -> secret_id). `deny_reads` refuses every read (a token whose
    policy lacks read), `redirect_to` answers every read with a 307 there, and
    `echo_in_errors` puts the token and secret_id received into error bodies, as a
    careless proxy might.
    """

    ca: trustme.CA = field(default_factory=trustme.CA)
    approle_mount: str = "approle"
    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    deleted: set[tuple[str, str]] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    approles: dict[str, str] = field(default_factory=dict)
    deny_reads: bool = False
    redirect_to: str | None = None
    echo_in_errors: bool = False
    logins: int = 0
    reads: int = 0
    requests: list[Seen] = field(default_factory=list)
    url: str = ""
    ca_pem_path: str = ""
    _server: _Server = field(init=False, repr=False)
    _thread: threading.Thread = field(init=False, repr=False)
    _tmp: Path = field(init=False, repr=False)

    def issue_token(self) -> str:
        """A new valid token, shaped like Vault's service tokens."""
        token = "hvs." + token_urlsafe(18)
        self.tokens.add(token)
        return token

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far (expiry or revocation): reads get 403."""
        self.tokens.clear()

    def __enter__(self) -> Self:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._server = _Server(context, self)
        self._tmp = Path(tempfile.mkdtemp(prefix="fake-vault-"))
        self.ca_pem_path = str(self._tmp / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_pem_path)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        shutil.rmtree(self._tmp, ignore_errors=True)

    # -- the API ---------------------------------------------------------------------------
    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> _Reply:
        """What Vault would answer; called by the handler, one request at a time."""
        self.requests.append(Seen(method, path, headers))
        path = path.partition("?")[0]
        if method == "POST" and path == f"/v1/auth/{self.approle_mount}/login":
            return self._login(body)
        if method == "GET" and "/data/" in path:
            return self._read(path, headers.get("x-vault-token"))
        return _Reply(404, {"errors": []})

    def _login(self, body: bytes) -> _Reply:
        self.logins += 1
        try:
            given = json.loads(body)
        except ValueError:
            return _Reply(400, {"errors": ["failed to parse JSON input"]})
        role_id, secret_id = given.get("role_id"), given.get("secret_id")
        if role_id not in self.approles or self.approles[role_id] != secret_id:
            echo = f": {secret_id}" if self.echo_in_errors else ""
            return _Reply(400, {"errors": ["invalid role or secret ID" + echo]})
        token = self.issue_token()
        policies = ["default", "vectorvue-read"]
        auth: dict[str, Any] = {"client_token": token, "accessor": "acc-" + token_hex(8)}
        auth |= {"policies": policies, "token_policies": policies, "metadata": None}
        auth |= {"lease_duration": 1200, "renewable": True, "token_type": "service"}
        return _Reply(200, _envelope(data=None, auth=auth))

    def _read(self, path: str, token: str | None) -> _Reply:
        self.reads += 1
        # Vault checks the token's policy before it looks for the path: no token, no 404.
        if token not in self.tokens or self.deny_reads:
            return self._denied(token)
        if self.redirect_to is not None:
            return _Reply(307, {}, {"Location": self.redirect_to + path})
        known = [*self.secrets, *self.deleted]
        where = next((k for k in known if path == f"/v1/{k[0]}/data/{k[1]}"), None)
        if where is None:
            return _Reply(404, {"errors": []})
        meta: dict[str, Any] = {"created_time": _CREATED, "custom_metadata": None}
        meta["destroyed"] = False
        if where in self.deleted:
            meta |= {"deletion_time": _CREATED, "version": 2}
            return _Reply(404, _envelope(data={"data": None, "metadata": meta}))
        meta |= {"deletion_time": "", "version": 1}
        return _Reply(200, _envelope(data={"data": self.secrets[where], "metadata": meta}))

    def _denied(self, token: str | None) -> _Reply:
        echo = f" for token {token}" if self.echo_in_errors else ""
        return _Reply(403, {"errors": ["permission denied" + echo]})


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _envelope(*, data: Any, auth: Any = None) -> dict[str, Any]:
    """Vault's response envelope around `data` (a read) or `auth` (a login)."""
    head = {"request_id": token_hex(16), "lease_id": "", "renewable": False, "lease_duration": 0}
    return head | {"data": data, "wrap_info": None, "warnings": None, "auth": auth}


class _Server(ThreadingHTTPServer):
    """HTTPS on an ephemeral port of 127.0.0.1, one thread per connection."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, context: ssl.SSLContext, vault: FakeVault) -> None:
        self.context, self.vault, self.lock = context, vault, threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # Skip HTTPServer's reverse DNS lookup of the address (it can take seconds).
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()

    def get_request(self) -> tuple[socket.socket, Any]:
        # The handshake happens in the connection's thread (see _Handler.setup), so a
        # client that refuses our certificate cannot stall the accept loop.
        sock, address = self.socket.accept()
        tls = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return tls, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet about network errors (clients that reject the certificate hang up
        mid-handshake on purpose); anything else is a bug of the fake, reported."""
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
        """Quiet: tests read `FakeVault.requests`."""

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
            reply = self.server.vault.answer(self.command, self.path, headers, body)
        raw = json.dumps(reply.body).encode() if reply.body else b""
        self.send_response(reply.status)
        for name, value in {"Content-Type": "application/json", **reply.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)
