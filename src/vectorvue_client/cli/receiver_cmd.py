"""`vectorvue-client receiver`: a LocalVectorVue for manual tests, until Ctrl-C."""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import secrets
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from vectorvue_client.cli import stop_signals
from vectorvue_client.cli.common import EXIT_OK, emit
from vectorvue_client.domain.errors import VectorVueConfigError

TENANT = "10000000-0000-0000-0000-000000000001"
IDENTITY = "spectrastrike-producer"
OPERATOR = "op-001"
CAMPAIGN = "manual-test"

if TYPE_CHECKING:
    from vectorvue_client.testing.receiver_http import RecordedRequest


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


def port_number(text: str) -> int:
    """The --port value: 0-65535 (0: a free port)."""
    if not text.isdecimal() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def run(args: argparse.Namespace) -> int:
    """Serve both profiles on 127.0.0.1, print how to point the client at it, then log one
    line per request on stderr until Ctrl-C, SIGTERM or --seconds."""
    require_testing_extra("receiver")
    from vectorvue_client.testing.receiver import LocalVectorVue
    from vectorvue_client.testing.receiver_gateway import TELEMETRY_PATH

    token, signing, password, compliance = (secrets.token_urlsafe(24) for _ in range(4))
    key = Ed25519PrivateKey.generate()
    operators = {name: [TENANT] for name in (OPERATOR, "op-002", "nmap-wrapper")}
    receiver = LocalVectorVue(
        api_token=token,
        signing_secret=signing if args.signed else None,
        compliance_signing_key=compliance,
        users={"operator": (password, TENANT, "operator")},
        gateway_identities={IDENTITY: key.public_key()},
        operator_tenants=operators,
        port=args.port,
        log=lambda request, status: _log_line(request, status, gateway_path=TELEMETRY_PATH),
    )
    with contextlib.ExitStack() as cleanup:
        cleanup.enter_context(stop_signals.held())  # before its threads start: they inherit it
        try:
            receiver.start()
        except OSError as exc:
            raise VectorVueConfigError(
                "--port", f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}"
            ) from exc
        cleanup.callback(receiver.stop)
        tmp = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="vectorvue-receiver-"))
        key_path = Path(tmp) / "gateway-ed25519.pem"
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        # The keyring a client is given out of band (no endpoint publishes it), written
        # in the file format `feedback_keyring_file` reads: kid -> raw public key, base64.
        keyring_path = Path(tmp) / "feedback-keyring.json"
        keyring_path.write_text(
            json.dumps(
                {kid: _raw_b64(public) for kid, public in receiver.feedback_public_keys.items()}
            )
        )
        cert = receiver.issue_client_cert(IDENTITY)
        # Each block names its profile and auth mode, so that pasting one after another
        # in the same shell leaves no setting of the previous one in force.
        common = {"VECTORVUE_BASE_URL": receiver.url, "VECTORVUE_CA_BUNDLE": receiver.ca_pem_path}
        signed: dict[str, str] = {}
        if args.signed:
            signed = {
                "VECTORVUE_SIGNING_SECRET_ENV": "VECTORVUE_SIGNING_SECRET",
                "VECTORVUE_SIGNING_SECRET": signing,
            }
        # Success envelopes are signed with the compliance key, as VectorVue signs them
        # when VV_COMPLIANCE_SIGNING_KEY is set. Only the login block lets the client check
        # them: the signature covers the tenant, which the client reads from the login's
        # JWT; the static token here is opaque, so its answers would only read "invalid".
        compliance_env = {
            "VECTORVUE_COMPLIANCE_KEY_ENV": "VECTORVUE_COMPLIANCE_KEY",
            "VECTORVUE_COMPLIANCE_KEY": compliance,
        }
        api = "integration-api"
        blocks = {
            "integration_api": {
                "VECTORVUE_PROFILE": api,
                "VECTORVUE_AUTH": "token",
                **common,
                "VECTORVUE_API_KEY": token,
                **signed,
            },
            "integration_api_login": {
                "VECTORVUE_PROFILE": api,
                "VECTORVUE_AUTH": "login",
                **common,
                "VECTORVUE_LOGIN_USERNAME": "operator",
                "VECTORVUE_LOGIN_TENANT_ID": TENANT,
                "VECTORVUE_PASSWORD": password,
                **signed,
                **compliance_env,
            },
            "telemetry_gateway": {
                "VECTORVUE_PROFILE": "telemetry-gateway",
                "VECTORVUE_AUTH": "token",
                **common,
                "VECTORVUE_CLIENT_CERT": cert.cert_path,
                "VECTORVUE_CLIENT_KEY": cert.key_path,
                "VECTORVUE_SERVICE_IDENTITY": IDENTITY,
                "VECTORVUE_SIGNING_KEY_FILE": str(key_path),
                "VECTORVUE_OPERATOR_ID": OPERATOR,
                "VECTORVUE_CAMPAIGN_ID": CAMPAIGN,
                "VECTORVUE_TENANT_ID": TENANT,
                "VECTORVUE_ATTESTATION_MEASUREMENT_HASH": "0" * 64,
                "VECTORVUE_FEEDBACK_KEYRING_FILE": str(keyring_path),
            },
        }
        titles = {
            "integration_api": "integration API, with the API token",
            "integration_api_login": "integration API, with a login (username and password)",
            "telemetry_gateway": "telemetry gateway (mutual TLS, Ed25519-signed events)",
        }
        lines = [
            f"# LocalVectorVue at {receiver.url}: both profiles, test credentials, loopback only.",
            "# Paste one block, then run: vectorvue-client send FILE",
            f"# (gateway block: also graph push FILE, feedback {TENANT})",
        ]
        for name, env in blocks.items():
            lines += [
                "",
                f"# {titles[name]}",
                *(f"export {k}={shlex.quote(v)}" for k, v in env.items()),
            ]
        lines += ["", "# One line per request follows on stderr; Ctrl-C stops it."]
        data = {"url": receiver.url, "ca_pem_path": receiver.ca_pem_path, **blocks}
        emit(args, data, "\n".join(lines))
        sys.stdout.flush()  # a pipe is block-buffered: whoever reads it needs them now
        stop_signals.wait(args.seconds or None)
    return EXIT_OK


def _raw_b64(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def _log_line(request: RecordedRequest, status: int, *, gateway_path: str) -> None:
    """One line on stderr per answered request: time, method, path (without its query),
    status and, on the gateway, the operator. Never a header or the body: they carry the
    token, the signatures and the findings."""
    path = request.path.partition("?")[0]
    words = [time.strftime("%H:%M:%S"), _shown(request.method), _shown(path), str(status)]
    if path == gateway_path:
        words.append(f"operator={_shown(_operator(request.body))}")
    print(" ".join(words), file=sys.stderr, flush=True)


def _operator(body: bytes) -> str:
    """The event's operator_id, or "-" when the body has none to read."""
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):  # the gateway is sent hostile bodies on purpose
        return "-"
    operator = event.get("operator_id") if isinstance(event, dict) else None
    return operator if isinstance(operator, str) else "-"


def _shown(text: str) -> str:
    """`text` as it is when it is printable and one word, else JSON-quoted: what a client
    sent must not move the terminal's cursor or forge a second log line."""
    if text and text.isprintable() and " " not in text and len(text) <= 256:
        return text
    return json.dumps(text[:256])
