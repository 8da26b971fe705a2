"""LocalVectorVue: a small VectorVue (integration-api profile) over real HTTPS on 127.0.0.1.

For tests that need real sockets: real TLS with a throwaway CA (trustme), HTTP/1.1
keep-alive, the contract's rules and quirks (see receiver_api.py) and injectable faults
(see receiver_faults.py). It starts in a few tens of milliseconds:

    with LocalVectorVue(api_token="t0ken") as vv:
        transport = RequestsTransport(vv.url, verify=vv.ca_pem_path)
        ...
        assert vv.receipts("evt-1") == 1
"""

from __future__ import annotations

import shutil
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from vectorvue_client.testing import receiver_faults as faults
from vectorvue_client.testing.receiver_api import IntegrationApi
from vectorvue_client.testing.receiver_http import RecordedRequest, TlsServer

if TYPE_CHECKING:
    import trustme

__all__ = ["LocalVectorVue", "RecordedRequest"]


class LocalVectorVue:
    """A local VectorVue over HTTPS on an ephemeral port of 127.0.0.1; a context manager.

    `server_names` are the identities in the server certificate and `ca` the trustme CA
    that signs it (a new one by default): pass other names to provoke a hostname mismatch.
    `now` is the clock of the signature window and of timestamps. `api` holds the
    contract's rules and what was stored; `faults` the pending injected faults.
    """

    def __init__(
        self,
        *,
        api_token: str,
        signing_secret: str | None = None,
        max_batch_items: int = 250,
        server_names: Sequence[str] = ("127.0.0.1", "localhost"),
        ca: trustme.CA | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.api = IntegrationApi(
            api_token=api_token,
            signing_secret=signing_secret,
            max_batch_items=max_batch_items,
            now=now,
        )
        self.faults = faults.FaultQueue()
        self._server_names = tuple(server_names)
        self._ca = ca
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._server: TlsServer | None = None
        self._thread: threading.Thread | None = None
        self._tmpdir: Path | None = None
        self._url = ""

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        """Make the certificates, bind an ephemeral port and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError("LocalVectorVue is already started")
        import trustme  # optional dependency: only tests need it

        ca = self._ca if self._ca is not None else trustme.CA()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert(*self._server_names).configure_cert(context)
        self._ca = ca
        self._stopping.clear()
        self._server = TlsServer(context, self.api, self.faults, self._record, self._stopping)
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
        """How many times an item with this id was accepted: 1 means exactly once."""
        return self.api.receipts(item_id)

    def reset(self) -> None:
        """Forget received requests, stored items and pending faults (keep the server)."""
        with self._lock:
            self._requests.clear()
        self.api.clear()
        self.faults.clear()

    # -- fault injection: each is used up by one request -----------------------------------
    def fail_next(
        self,
        n: int,
        status: int,
        body: bytes = b'{"detail":"Injected failure"}',
        headers: Mapping[str, str] | None = None,
        content_type: str | None = "application/json",
        *,
        include_health: bool = False,
    ) -> None:
        """Answer the next `n` requests with this response (keep-alive continues)."""
        all_headers = dict(headers or {})
        if content_type is not None and not any(k.lower() == "content-type" for k in all_headers):
            all_headers["Content-Type"] = content_type
        fault = faults.Respond(status, body, all_headers)
        self.faults.add(n, fault, include_health=include_health)

    def fail_next_text(
        self,
        n: int,
        status: int = 500,
        text: str = "Internal Server Error",
        *,
        late_close: bool = False,
        include_health: bool = False,
    ) -> None:
        """Answer plain text, then close the connection unannounced (the real 500);
        `late_close`: close it only when the client's next request arrives on it, so that
        request fails, as the contract describes (see receiver_faults.plain_text)."""
        fault = faults.plain_text(status, text, late_close=late_close)
        self.faults.add(n, fault, include_health=include_health)

    def reset_next(self, n: int, *, include_health: bool = False) -> None:
        """Drop the connection with a TCP reset instead of answering."""
        self.faults.add(n, faults.Reset(), include_health=include_health)

    def stall_next(self, n: int, seconds: float, *, include_health: bool = False) -> None:
        """Wait `seconds`, then process and answer the request normally."""
        self.faults.add(n, faults.Stall(seconds), include_health=include_health)

    def redirect_next(
        self, n: int, location: str, status: int = 307, *, include_health: bool = False
    ) -> None:
        """Answer a redirect to `location`."""
        self.faults.add(n, faults.redirect(location, status), include_health=include_health)

    def huge_body_next(
        self,
        n: int,
        size: int,
        status: int = 202,
        *,
        framing: faults.Framing = "length",
        include_health: bool = False,
    ) -> None:
        """Answer a JSON body of `size` bytes, framed by Content-Length, "chunked", or
        "endless" (chunked and never finished: the server waits for the client to hang up)."""
        fault = faults.huge_body(size, status, framing=framing)
        self.faults.add(n, fault, include_health=include_health)

    def non_json_next(self, n: int, status: int = 202, *, include_health: bool = False) -> None:
        """Answer an HTML page, as a proxy would."""
        self.faults.add(n, faults.non_json(status), include_health=include_health)

    # -- used by the handler ---------------------------------------------------------------
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
