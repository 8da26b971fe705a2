"""Fast local HTTPS receivers for the benchmarks: nginx answering 202 (so that the receiver
is not what is measured), or LocalVectorVue when nginx is not installed."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme

TOKEN = "bench-token-0123456789"  # a loopback test receiver's token
TOKEN_ENV = "BENCH_VECTORVUE_TOKEN"  # where the clients read it

ENVELOPE = (
    '{"request_id":"00000000-0000-0000-0000-000000000000",'
    '"status":"accepted","data":{},"errors":[]}'
)


@dataclass(frozen=True)
class Receiver:
    """Where to send, with what to trust, and what it is."""

    url: str
    ca_path: str
    kind: str  # "nginx" or "LocalVectorVue"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def nginx() -> Iterator[Receiver]:
    """nginx on 127.0.0.1 with a fresh certificate, one worker, answering every request
    202 with a fixed VectorVue envelope after reading the body."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        cert.private_key_and_cert_chain_pem.write_to_path(f"{tmp}/server.pem")
        ca.cert_pem.write_to_path(f"{tmp}/ca.pem")
        port = _free_port()
        Path(f"{tmp}/nginx.conf").write_text(
            f"""
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  client_max_body_size 4m;
  client_body_buffer_size 4m;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {tmp}/server.pem;
    ssl_certificate_key {tmp}/server.pem;
    location / {{
      default_type application/json;
      return 202 '{ENVELOPE}';
    }}
  }}
}}
"""
        )
        process = subprocess.Popen(  # noqa: S603 - a fixed binary and our own config
            [binary, "-p", tmp, "-c", f"{tmp}/nginx.conf", "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if process.poll() is not None:
                        reason = process.stderr.read() if process.stderr else b""
                        raise RuntimeError(f"nginx did not start: {reason!r}") from None
                    time.sleep(0.02)
            yield Receiver(f"https://127.0.0.1:{port}", f"{tmp}/ca.pem", "nginx")
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stderr is not None:
                process.stderr.close()


@contextmanager
def local_vectorvue() -> Iterator[Receiver]:
    """LocalVectorVue (Python, slower than nginx: it may be what limits the rates)."""
    from vectorvue_client.testing import LocalVectorVue

    # The batches measured go up to 1000 items (the server setting allows 1-1000).
    with LocalVectorVue(api_token=TOKEN, rate_limit_per_minute=10**9, max_batch_items=1000) as vv:
        yield Receiver(vv.url, vv.ca_pem_path, "LocalVectorVue")


def fastest() -> AbstractContextManager[Receiver]:
    """nginx when it is installed, else LocalVectorVue."""
    if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
        return nginx()
    return local_vectorvue()
