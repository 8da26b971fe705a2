"""LocalVectorVue's certificates: the server's TLS context (optionally requiring a client
certificate, as the telemetry gateway's TLS terminator does) and client certificates issued
by the receiver's own CA."""

from __future__ import annotations

import hashlib
import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import trustme


@dataclass(frozen=True, slots=True)
class ClientCert:
    """A client certificate issued by LocalVectorVue's CA, as PEM files.

    `sha256` is what the X-Client-Cert-Sha256 header must state: the SHA-256 of the
    certificate's DER, 64 lowercase hex characters. Pass `(cert_path, key_path)` as the
    client certificate of the TLS connection (e.g. requests' `cert=`).
    """

    cert_path: str
    key_path: str
    sha256: str
    common_name: str


def fingerprint(der: bytes) -> str:
    """The SHA-256 of a certificate's DER as the gateway wants it: 64 lowercase hex."""
    return hashlib.sha256(der).hexdigest()


def server_context(
    ca: trustme.CA, server_names: Sequence[str], *, require_client_cert: bool
) -> ssl.SSLContext:
    """The server's context: a certificate for `server_names` signed by `ca`; client
    certificates signed by `ca` are required, or merely accepted (so that the one a client
    presents can still be recorded and compared with X-Client-Cert-Sha256)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*server_names).configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return context


def issue_client_cert(ca: trustme.CA, directory: Path, common_name: str) -> ClientCert:
    """A new client certificate and key for `common_name`, written as PEM into `directory`
    (file names are unique, so a test may hold several)."""
    leaf = ca.issue_cert(common_name=common_name)
    stem = f"client-{uuid.uuid4().hex[:12]}"
    cert_path, key_path = directory / f"{stem}.cert.pem", directory / f"{stem}.key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert_path))
    leaf.private_key_pem.write_to_path(str(key_path))
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode("ascii"))
    return ClientCert(str(cert_path), str(key_path), fingerprint(der), common_name)
