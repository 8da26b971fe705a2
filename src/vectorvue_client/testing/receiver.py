"""LocalVectorVue: a small VectorVue, both ingest profiles, over real HTTPS on 127.0.0.1.

For tests that need real sockets: real TLS with a throwaway CA (trustme), optionally mTLS,
HTTP/1.1 keep-alive, the contract's rules and quirks (integration-api: receiver_api.py and
receiver_auth.py; telemetry-gateway: receiver_gateway.py) and injectable faults
(receiver_faults.py). Both profiles are served on the same port. It starts in a few tens of
milliseconds:

    with LocalVectorVue(api_token="t0ken") as vv:
        transport = RequestsTransport(vv.url, verify=vv.ca_pem_path)
        ...
        assert vv.receipts("evt-1") == 1

The telemetry gateway needs to know the producer's key and which tenants its operators
may write to:

    key = Ed25519PrivateKey.generate()
    with LocalVectorVue(
        api_token="t0ken",
        require_client_cert=True,
        gateway_identities={"spectrastrike-producer": key.public_key()},
        operator_tenants={"op-1": ["6f1c2d3e-..."]},
    ) as vv:
        cert = vv.issue_client_cert()  # cert.cert_path, cert.key_path, cert.sha256
        ...
        assert vv.gateway_receipts("6f1c2d3e-...", "evt-1") == 1
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from vectorvue_client.testing.receiver_api import IntegrationApi
from vectorvue_client.testing.receiver_auth import Accounts
from vectorvue_client.testing.receiver_client_events import CLIENT_EVENTS_PATH, ClientEvents
from vectorvue_client.testing.receiver_cognitive import GRAPH_PATH, QUERY_PATH, CognitiveLoop
from vectorvue_client.testing.receiver_faults import FaultInjector, FaultQueue
from vectorvue_client.testing.receiver_federation import FEDERATION_PATH, FederationVerify
from vectorvue_client.testing.receiver_gateway import TELEMETRY_PATH, TelemetryGateway
from vectorvue_client.testing.receiver_http import RecordedRequest, Route, TlsServer
from vectorvue_client.testing.receiver_tls import ClientCert, issue_client_cert, server_context

if TYPE_CHECKING:
    import trustme
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

__all__ = ["ClientCert", "LocalVectorVue", "RecordedRequest"]


class LocalVectorVue(FaultInjector):
    """A local VectorVue over HTTPS on 127.0.0.1; a context manager.

    It listens on `port` (0, the default: an ephemeral one; see `url`). `log`, when given,
    is called from the serving thread with each request and the status it was answered
    (not for a connection reset or dropped without an answer).

    TLS: `server_names` are the identities in the server certificate and `ca` the trustme
    CA that signs it (a new one by default): pass other names to provoke a hostname
    mismatch. With `require_client_cert` a client must present a certificate signed by
    that CA (see `issue_client_cert`) or its handshake fails; without it one is accepted
    but not required.

    Integration API: `api_token` is the static bearer token; `users` maps a username to
    (password, tenant_id, role) for the login, whose JWT lives `jwt_ttl_seconds` while the
    answer advertises `advertised_expires_in` (default: the same; set it to lie, as the
    real server can); at most `rate_limit_per_minute` requests per client per sliding 60 s;
    at most `max_batch_items` items per batch (clamped to 1-1000, as the server does).
    `signing_secret` is the server's request-signing secret (X-Signature checked when set);
    `compliance_signing_key` its VV_COMPLIANCE_SIGNING_KEY: when set, success envelopes
    carry an HMAC-SHA256 `signature` (receiver_signing.py), else `signature` is null.

    Telemetry gateway: `gateway_identities` maps a service name to its Ed25519 public key
    (none: every request is 401); `operator_tenants` maps an operator_id to the tenant_ids
    it may write to (absent operators are mapped to nothing: 403); at most
    `gateway_burst_per_minute` requests per operator per calendar minute;
    `gateway_schema_versions` is the allowed list of attributes.schema_version (empty:
    the gateway runs with schema-version enforcement off).

    Cognitive loop (same identities, signatures, replay store and operator map as
    telemetry): `feedback_keys` maps a kid to the Ed25519 private key the feedback query
    is signed with (none: a fresh key under `feedback_kid`), `feedback_kid` is the active
    one (see `feedback_public_keys`); at most `graph_limit_per_minute` execution graphs per
    operator per calendar minute (a counter apart from telemetry's). The graph's
    schema_version must be execution.graph.v1 unless `gateway_schema_versions` is empty.

    POST /internal/v1/federation/verify checks the gateway's identity headers only and
    verifies a bundle against the identity's key.

    POST /api/v1/client/events takes the integration API's bearer tokens (not its rate
    limit: 120 per sliding 60 s per tenant and user instead); see `client_events`.

    What each profile accepts is the server's own schema, written from the contract
    (receiver_api_schema.py, receiver_gateway_schema.py): never the client's models.

    `now` is the clock of every window (signatures, timestamps, JWTs, rate and burst
    limits, replay store). `api` and `gateway` hold each profile's rules and what was
    stored; `faults` the pending injected faults.
    """

    def __init__(
        self,
        *,
        api_token: str,
        signing_secret: str | None = None,
        compliance_signing_key: str | None = None,
        max_batch_items: int = 250,
        server_names: Sequence[str] = ("127.0.0.1", "localhost"),
        ca: trustme.CA | None = None,
        now: Callable[[], float] = time.time,
        require_client_cert: bool = False,
        users: Mapping[str, tuple[str, str, str]] | None = None,
        jwt_ttl_seconds: int = 43200,
        advertised_expires_in: int | None = None,
        rate_limit_per_minute: int = 240,
        gateway_identities: Mapping[str, Ed25519PublicKey] | None = None,
        operator_tenants: Mapping[str, Collection[str]] | None = None,
        gateway_burst_per_minute: int = 120,
        gateway_schema_versions: Collection[str] = ("1.0",),
        feedback_keys: Mapping[str, Ed25519PrivateKey] | None = None,
        feedback_kid: str = "default",
        graph_limit_per_minute: int = 120,
        port: int = 0,
        log: Callable[[RecordedRequest, int], None] | None = None,
    ) -> None:
        self._api_token = api_token
        accounts = Accounts(
            api_token=api_token,
            users=users or {},
            jwt_ttl_seconds=jwt_ttl_seconds,
            advertised_expires_in=advertised_expires_in,
            rate_limit_per_minute=rate_limit_per_minute,
            now=now,
        )
        self.api = IntegrationApi(
            accounts=accounts,
            signing_secret=signing_secret,
            max_batch_items=max_batch_items,
            now=now,
            compliance_signing_key=compliance_signing_key,
        )
        self.activity = ClientEvents(accounts=accounts, now=now)
        self.gateway = TelemetryGateway(
            identities=gateway_identities or {},
            operator_tenants=operator_tenants or {},
            burst_per_minute=gateway_burst_per_minute,
            schema_versions=gateway_schema_versions,
            now=now,
        )
        if feedback_keys is None:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

            feedback_keys = {feedback_kid: Ed25519PrivateKey.generate()}
        self.cognitive = CognitiveLoop(
            gateway=self.gateway,
            feedback_keys=feedback_keys,
            feedback_kid=feedback_kid,
            graph_limit_per_minute=graph_limit_per_minute,
            now=now,
        )
        self.faults = FaultQueue()
        self._server_names = tuple(server_names)
        self._require_client_cert = require_client_cert
        self._ca = ca
        self._port = port
        self._log = log
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._server: TlsServer | None = None
        self._thread: threading.Thread | None = None
        self._tmpdir: Path | None = None
        self._url = ""

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        """Make the certificates, bind the port and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError("LocalVectorVue is already started")
        import trustme  # optional dependency: only tests need it

        ca = self._ca if self._ca is not None else trustme.CA()
        context = server_context(
            ca, self._server_names, require_client_cert=self._require_client_cert
        )
        self._ca = ca
        self._stopping.clear()
        self._server = TlsServer(
            context,
            self.api,
            self._routes(),
            self.faults,
            self._record,
            self._stopping,
            port=self._port,
            log=self._log,
        )
        self._tmpdir = Path(tempfile.mkdtemp(prefix="local-vectorvue-"))
        ca.cert_pem.write_to_path(str(self._tmpdir / "ca.pem"))
        self._url = f"https://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits up to one poll interval
            name="LocalVectorVue",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections, remove the temporary CA file."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # ends stalls early
        server.shutdown()
        server.drop_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def _routes(self) -> dict[str, Route]:
        gateway, cognitive = self.gateway, self.cognitive
        return {
            TELEMETRY_PATH: Route(
                lambda method, _, headers, body, cert: gateway.handle(method, headers, body, cert),
                lambda method, _, headers, body, cert: gateway.admit(method, headers, body, cert),
            ),
            GRAPH_PATH: Route(cognitive.handle, cognitive.admit),
            QUERY_PATH: Route(cognitive.handle, cognitive.admit),
            CLIENT_EVENTS_PATH: Route(self.activity.handle),
            FEDERATION_PATH: Route(FederationVerify(gateway).handle),
        }

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL, https://127.0.0.1:PORT."""
        if not self._url:
            raise RuntimeError("LocalVectorVue is not started")
        return self._url

    @property
    def ca_pem_path(self) -> str:
        """Path of the PEM file of the CA that signed the server certificate."""
        if self._tmpdir is None:
            raise RuntimeError("LocalVectorVue is not started")
        return str(self._tmpdir / "ca.pem")

    @property
    def api_token(self) -> str:
        """The static bearer token the integration API accepts."""
        return self._api_token

    def issue_client_cert(self, common_name: str = "spectrastrike-producer") -> ClientCert:
        """A new client certificate signed by the receiver's CA, written with its key as PEM
        files into the receiver's temporary directory (removed by `stop`)."""
        if self._tmpdir is None or self._ca is None:
            raise RuntimeError("LocalVectorVue is not started")
        return issue_client_cert(self._ca, self._tmpdir, common_name)

    @property
    def ca(self) -> trustme.CA:
        """The trustme CA that signed the server certificate."""
        if self._ca is None:
            raise RuntimeError("LocalVectorVue is not started")
        return self._ca

    # -- what it received ------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received (faulted ones included), in order of arrival."""
        with self._lock:
            return list(self._requests)

    def accepted_events(self) -> dict[str, dict[str, Any]]:
        """Stored events by event_id (the first version of each)."""
        return self.api.stored("event_id")

    def accepted_findings(self) -> dict[str, dict[str, Any]]:
        """Stored findings by finding_id (the first version of each)."""
        return self.api.stored("finding_id")

    def receipts(self, item_id: str) -> int:
        """How many times an item with this id was accepted, both profiles together (on the
        gateway, all tenants together): 1 means exactly once."""
        return self.api.receipts(item_id) + self.gateway.receipts_of(item_id)

    def accepted_telemetry(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Events the telemetry gateway stored, by (tenant_id, event_id): the last body of
        each (last write wins), as VectorVue holds it (trimmed, HTML-escaped, cut)."""
        return self.gateway.stored()

    def gateway_receipts(self, tenant_id: str, event_id: str) -> int:
        """How many times the gateway stored this tenant's event: 1 means exactly once."""
        return self.gateway.receipts(tenant_id, event_id)

    @property
    def feedback_public_keys(self) -> dict[str, Ed25519PublicKey]:
        """kid -> public key of every feedback signing key: the keyring a client is given
        out of band (no endpoint publishes it)."""
        return self.cognitive.public_keys

    def stored_graphs(self, tenant: str) -> list[dict[str, Any]]:
        """The execution-graph bodies the gateway holds for this tenant string (case
        matters), oldest first: the newest 1000, poison ones included."""
        return self.cognitive.stored_graphs(tenant)

    def client_events(self) -> list[dict[str, Any]]:
        """What POST /api/v1/client/events stored, oldest first: tenant_id (canonical),
        user (the token's sub), event_type (upper-cased), object_type (lower-cased),
        object_id, severity (trimmed, lower-cased), timestamp (UTC, ISO-8601) and
        metadata_json as reduced before storage."""
        return self.activity.stored()

    @property
    def logins(self) -> int:
        """How many login attempts were made, successful or not (one, not a loop)."""
        return self.api.accounts.logins

    def reset(self) -> None:
        """Forget received requests, stored items, logins, rate and burst counters, the
        replay store and pending faults (keep the server, its keys and certificates)."""
        with self._lock:
            self._requests.clear()
        self.api.clear()
        self.api.accounts.clear()
        self.gateway.clear()
        self.cognitive.clear()
        self.activity.clear()
        self.faults.clear()

    # -- used by the handler ---------------------------------------------------------------
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
