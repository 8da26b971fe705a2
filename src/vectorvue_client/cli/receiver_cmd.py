"""`vectorvue-client receiver`: a LocalVectorVue for manual tests, until Ctrl-C."""

from __future__ import annotations

import argparse
import secrets
import signal
import tempfile
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client.cli.common import EXIT_OK, emit
from vectorvue_client.domain.errors import VectorVueConfigError

TENANT = "10000000-0000-0000-0000-000000000001"
IDENTITY = "spectrastrike-producer"


def require_testing_extra(command: str) -> None:
    """Refuse `command` in one line naming the extra to install when LocalVectorVue's
    certificate maker (trustme, the `testing` extra) is missing. LocalVectorVue imports it
    only when it starts, so without this check the command would die mid-way in a
    ModuleNotFoundError traceback."""
    try:
        import trustme  # noqa: F401
    except ModuleNotFoundError as exc:
        raise VectorVueConfigError(
            command,
            f"needs the testing extra ({exc.name} is not installed): "
            "pip install 'vectorvue-client[testing]'",
        ) from exc


def run(args: argparse.Namespace) -> int:
    """Serve both profiles on 127.0.0.1 and print how to point the client at it."""
    require_testing_extra("receiver")
    from vectorvue_client.testing.receiver import LocalVectorVue

    token, signing, password = (secrets.token_urlsafe(24) for _ in range(3))
    key = Ed25519PrivateKey.generate()
    operators = {name: [TENANT] for name in ("op-001", "op-002", "nmap-wrapper")}
    with (
        tempfile.TemporaryDirectory(prefix="vectorvue-receiver-") as tmp,
        LocalVectorVue(
            api_token=token,
            signing_secret=signing if args.signed else None,
            users={"operator": (password, TENANT, "operator")},
            gateway_identities={IDENTITY: key.public_key()},
            operator_tenants=operators,
        ) as receiver,
    ):
        key_path = Path(tmp) / "gateway-ed25519.pem"
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        cert = receiver.issue_client_cert(IDENTITY)
        env = {
            "VECTORVUE_BASE_URL": receiver.url,
            "VECTORVUE_CA_BUNDLE": receiver.ca_pem_path,
            "VECTORVUE_API_KEY": token,
        }
        if args.signed:
            env["VECTORVUE_SIGNING_SECRET_ENV"] = "VECTORVUE_SIGNING_SECRET"  # noqa: S105
            env["VECTORVUE_SIGNING_SECRET"] = signing
        gateway = {
            "VECTORVUE_PROFILE": "telemetry-gateway",
            "VECTORVUE_CLIENT_CERT": cert.cert_path,
            "VECTORVUE_CLIENT_KEY": cert.key_path,
            "VECTORVUE_SERVICE_IDENTITY": IDENTITY,
            "VECTORVUE_SIGNING_KEY_FILE": str(key_path),
            "VECTORVUE_TENANT_ID": TENANT,
            "VECTORVUE_ATTESTATION_MEASUREMENT_HASH": "0" * 64,
        }
        data = {
            "url": receiver.url,
            "ca_pem_path": receiver.ca_pem_path,
            "integration_api": env,
            "telemetry_gateway_extra": gateway,
            "login": {"username": "operator", "password": password, "tenant_id": TENANT},
        }
        lines = [
            f"LocalVectorVue at {receiver.url} (both profiles; test credentials, loopback only)",
            "",
            "integration API:",
            *(f"  export {k}={v}" for k, v in env.items()),
            "telemetry gateway (in addition):",
            *(f"  export {k}={v}" for k, v in gateway.items()),
            f"login: username operator, password {password}, tenant {TENANT}",
            "",
            "Ctrl-C stops it.",
        ]
        emit(args, data, "\n".join(lines))
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(args.seconds if args.seconds else 3600.0):
                if args.seconds:
                    break
        except KeyboardInterrupt:
            pass
    return EXIT_OK
