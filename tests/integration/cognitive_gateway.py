"""CognitiveGateway: the gateway's two cognitive routes (and a bare telemetry route), over
real HTTPS on 127.0.0.1, requiring a client certificate, written for these tests from the
contract ("Cognitive loop (gateway)") and nothing of the client's:

- identity: X-Service-Identity, and X-Client-Cert-Sha256 equal to the SHA-256 of the DER
  of the certificate it issued (401 otherwise);
- Ed25519 over "<timestamp>.<nonce>." + body with the producer's public key, timestamp
  within 30 s of its clock (401); a (timestamp, nonce) used once is a 409, used up as soon
  as the signature verifies, whatever follows;
- its own schema of both bodies (closed; any error is a plain 500); the operator -> tenant
  map (403); graphs counted per operator per calendar minute apart from telemetry (429);
- the feedback answer signed as the contract says: six parts joined by "|", the data as
  json.dumps(sort_keys=True, separators=(",", ":")), the body itself in model order with
  non-ASCII raw. `script` may answer a request first (a fault, a forged answer).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import ssl
import string
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import trustme
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

GRAPH = "/internal/v1/cognitive/execution-graph"
QUERY = "/internal/v1/cognitive/feedback/adjustments/query"
TELEMETRY = "/internal/v1/telemetry"
IDENTITY = "spectrastrike-producer"
# RFC 8032, section 7.1, TEST 1: the gateway's feedback key in these tests.
FEEDBACK_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
HEX = set(string.hexdigits)


@dataclass(frozen=True, slots=True)
class Seen:
    """A request as received: path, lower-cased headers, body, and its verdict."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer: status, body, content type."""

    status: int
    body: bytes
    content_type: str = "application/json"


def detail(status: int, text: str) -> Reply:
    return Reply(status, json.dumps({"detail": text}).encode())


type Script = Callable[[Seen], Reply | None]


@dataclass
class State:
    """What the gateway keeps: used nonces, graphs per tenant, burst counters."""

    used: set[tuple[int, str]] = field(default_factory=set)
    graphs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    bursts: dict[tuple[str, str, int], int] = field(default_factory=dict)


class CognitiveGateway:
    """The server, as a context manager."""

    def __init__(
        self,
        *,
        operators: dict[str, str],
        now: Callable[[], float] = time.time,
        kid: str = "default",
        feedback_key: Ed25519PrivateKey | None = None,
        rate_per_minute: int = 120,
    ) -> None:
        self.operators = operators
        self.now = now
        self.kid = kid
        self.feedback_key = feedback_key or Ed25519PrivateKey.from_private_bytes(FEEDBACK_SEED)
        self.rate = rate_per_minute
        self.script: Script = lambda seen: None
        self.seen: list[Seen] = []
        self.answers = 0
        self.state = State()
        self.lock = threading.Lock()
        self.tmp = Path(tempfile.mkdtemp(prefix="cognitive-gateway-"))
        self.ca = trustme.CA()
        self.ca_pem = str(self.tmp / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_pem)
        leaf = self.ca.issue_cert(common_name=IDENTITY)
        self.client_cert, self.client_key = str(self.tmp / "c.pem"), str(self.tmp / "k.pem")
        leaf.cert_chain_pems[0].write_to_path(self.client_cert)
        leaf.private_key_pem.write_to_path(self.client_key)
        der = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes()).public_bytes(
            serialization.Encoding.DER
        )
        self.pinned = hashlib.sha256(der).hexdigest()
        self.producer_key = Ed25519PrivateKey.generate()
        self.signing_key_file = str(self.tmp / "producer.pem")
        Path(self.signing_key_file).write_bytes(
            self.producer_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        public = self.feedback_key.public_key().public_bytes_raw()
        self.keyring_file = str(self.tmp / "keyring.json")
        Path(self.keyring_file).write_text(json.dumps({kid: base64.b64encode(public).decode()}))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert("127.0.0.1").configure_cert(context)
        self.ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED  # the terminator requires the certificate
        self._server = _Server(context, self)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def settings(self, **more: Any) -> dict[str, Any]:
        """Client settings for this gateway."""
        return {
            "base_url": self.url,
            "profile": "telemetry-gateway",
            "ca_bundle": self.ca_pem,
            "client_cert": self.client_cert,
            "client_key": self.client_key,
            "service_identity": IDENTITY,
            "signing_key_file": self.signing_key_file,
            "feedback_keyring_file": self.keyring_file,
            **more,
        }

    # -- the gateway's rules ------------------------------------------------------------
    def answer(self, seen: Seen) -> Reply:
        """Every check in the contract's order."""
        h = seen.headers
        if h.get("x-service-identity", "").strip() != IDENTITY:
            return detail(401, "Unknown service identity")
        if h.get("x-client-cert-sha256", "").strip() != self.pinned:
            return detail(401, "Client certificate fingerprint mismatch")
        try:
            timestamp = int(h["x-telemetry-timestamp"].strip())
            nonce = h["x-telemetry-nonce"].strip()
            signature = base64.b64decode(h["x-telemetry-signature"].strip(), validate=True)
            message = f"{timestamp}.{nonce}.".encode() + seen.body
            self.producer_key.public_key().verify(signature, message)
        except (KeyError, ValueError, InvalidSignature):
            return detail(401, "Invalid signature")
        if abs(self.now() - timestamp) > 30:
            return detail(401, "Timestamp outside window")
        if (timestamp, nonce) in self.state.used:
            return detail(409, "Replay detected: nonce already used")
        self.state.used.add((timestamp, nonce))
        scripted = self.script(seen)
        if scripted is not None:
            return scripted
        if seen.path == TELEMETRY:
            return Reply(202, b'{"accepted":true,"request_id":"t"}')
        try:
            body = json.loads(seen.body)
            problem = _graph_problem(body) if seen.path == GRAPH else _query_problem(body)
        except ValueError:
            problem = "not JSON"
        if problem is not None:
            return Reply(500, b"Internal Server Error", "text/plain")
        if seen.path == GRAPH and body["schema_version"] != "execution.graph.v1":
            return detail(422, "Unsupported schema_version")
        mapped = self.operators.get(body["operator_id"])
        if mapped is None:
            return detail(403, "Operator is not mapped to any tenant")
        if mapped != body["tenant_id"]:
            return detail(403, "Operator tenant mapping violation")
        if seen.path == GRAPH:
            minute = int(self.now() // 60)
            count_key = ("graph", body["operator_id"], minute)
            self.state.bursts[count_key] = self.state.bursts.get(count_key, 0) + 1
            if self.state.bursts[count_key] > self.rate:
                return detail(429, "Operator burst anomaly detected")
            self.state.graphs.setdefault(body["tenant_id"], []).append(body)
            return Reply(
                202,
                json.dumps(
                    {
                        "request_id": "00000000-0000-4000-8000-000000000001",
                        "status": "accepted",
                        "data": {"graph_synced": True},
                        "errors": [],
                    }
                ).encode(),
            )
        return self.feedback(body["tenant_id"], body.get("limit", 100))

    def feedback(self, tenant: str, limit: int, *, nonce: str | None = None) -> Reply:
        """The signed answer of a query for `tenant`."""
        graphs = self.state.graphs.get(tenant, [])[-limit:]
        data = [self.adjustment(g) for g in graphs]
        return self.signed(tenant, data, nonce=nonce)

    def adjustment(self, graph: dict[str, Any]) -> dict[str, Any]:
        nodes = graph["graph"].get("nodes")
        dense = isinstance(nodes, list) and len(nodes) >= 8
        return {
            "tenant_id": graph["tenant_id"],
            "execution_fingerprint": graph["execution_fingerprint"].lower(),
            "target_urn": str(graph["graph"].get("target_urn", "urn:target:unknown")),
            "action": "tighten" if dense else "observe",
            "confidence": 0.82 if dense else 0.55,
            "rationale": "dense execution graph" if dense else "sparse execution graph",
            "control": "execution",
            "ttl_seconds": 1800,
            "timestamp": int(self.now()),
            "schema_version": "feedback.adjustment.v1",
            "attestation_measurement_hash": graph["attestation_measurement_hash"].lower(),
        }

    def signed(
        self,
        tenant: str,
        data: list[Any],
        *,
        nonce: str | None = None,
        signed_data: list[Any] | None = None,
        key: Ed25519PrivateKey | None = None,
        kid: str | None = None,
        signed_at: int | None = None,
    ) -> Reply:
        """A feedback answer signed from the contract's rules (`signed_data`: sign other
        data than is sent, a forgery)."""
        signed_at = int(self.now()) if signed_at is None else signed_at
        kid = self.kid if kid is None else kid
        self.answers += 1
        nonce = nonce or f"answer-nonce-{self.answers:011d}"  # 24 URL-safe characters
        canonical = json.dumps(
            data if signed_data is None else signed_data, sort_keys=True, separators=(",", ":")
        )
        message = f"{tenant}|{signed_at}|{nonce}|feedback.response.v1|{kid}|{canonical}"
        signature = (key or self.feedback_key).sign(message.encode())
        body = {
            "request_id": "00000000-0000-4000-8000-000000000002",
            "status": "accepted",
            "data": data,
            "errors": [],
            "signature": base64.b64encode(signature).decode(),
            "kid": kid,
            "signature_algorithm": "Ed25519",
            "signed_at": signed_at,
            "nonce": nonce,
            "schema_version": "feedback.response.v1",
        }
        return Reply(200, json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _text(value: Any, low: int, high: int) -> bool:
    return isinstance(value, str) and low <= len(value) <= high


def _hex64(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= HEX


def _tenant(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 36 and set(value) <= HEX | {"-"}


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _graph_problem(body: Any) -> str | None:
    keys = {
        "operator_id",
        "tenant_id",
        "execution_fingerprint",
        "timestamp",
        "nonce",
        "schema_version",
        "attestation_measurement_hash",
        "graph",
    }
    if not isinstance(body, dict) or set(body) != keys:
        return "keys"
    checks = [
        _text(body["operator_id"], 1, 128),
        _tenant(body["tenant_id"]),
        _hex64(body["execution_fingerprint"]),
        _int(body["timestamp"]),
        _text(body["nonce"], 8, 128),
        _text(body["schema_version"], 1, 32),
        _hex64(body["attestation_measurement_hash"]),
        isinstance(body["graph"], dict),
    ]
    return None if all(checks) else "field"


def _query_problem(body: Any) -> str | None:
    keys = {"operator_id", "tenant_id", "timestamp", "nonce", "limit"}
    if not isinstance(body, dict) or not set(body) <= keys or not keys - {"limit"} <= set(body):
        return "keys"
    limit = body.get("limit", 100)
    checks = [
        _text(body["operator_id"], 1, 128),
        _tenant(body["tenant_id"]),
        _int(body["timestamp"]),
        _text(body["nonce"], 8, 128),
        _int(limit) and 1 <= limit <= 1000,
    ]
    return None if all(checks) else "field"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, context: ssl.SSLContext, owner: CognitiveGateway) -> None:
        self.context, self.owner = context, owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        tls = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return tls, address

    def handle_error(self, request: Any, client_address: Any) -> None:
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
        """Quiet."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        owner = self.server.owner
        with owner.lock:
            seen = Seen(self.path, headers, body)
            reply = owner.answer(seen)
            owner.seen.append(Seen(self.path, headers, body, reply.status))
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)
