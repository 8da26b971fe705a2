"""`envelope verify FILE --path PATH --tenant TENANT`: the signature of a saved answer of
the integration API (a response body kept by whoever called VectorVue), checked with the
compliance signing key named by `compliance_key_env` (ADR 0034).

Exit 0 verified, 1 invalid, 2 unsigned or not checkable (no key configured, the variable
unset, a path VectorVue does not sign, a file that is not a JSON envelope).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid

from vectorvue_client.cli.common import EXIT_OK, EXIT_REJECTED, EXIT_USAGE, emit, settings
from vectorvue_client.domain.envelope_signature import (
    INVALID,
    VERIFIED,
    check_envelope,
    signed_path,
)
from vectorvue_client.domain.errors import VectorVueConfigError

# Far above any envelope VectorVue writes (a batch answer of 1000 items is ~200 KiB).
_MAX_FILE_BYTES = 16 * 1024 * 1024


def verify(args: argparse.Namespace) -> int:
    """Check the saved answer in args.file; the verdict on stdout, the exit code by it."""
    path = signed_path(args.path)
    if path is None:
        raise VectorVueConfigError(
            "--path",
            "VectorVue signs the answers of the four SpectraStrike POST routes and of "
            "GET .../ingest/status/{request_id} only",
        )
    try:
        tenant = str(uuid.UUID(args.tenant))
    except ValueError:
        raise VectorVueConfigError("--tenant", "must be the token's tenant_id, a UUID") from None
    config = settings(args, offline=True).config
    if config.compliance_key_env is None:
        raise VectorVueConfigError(
            "compliance_key_env",
            "is not set: name the environment variable that holds VectorVue's compliance "
            "signing key (--set compliance_key_env=NAME)",
        )
    # Through the container, as a client reads it (masked from every text from then on).
    from vectorvue_client.container import Container

    source = Container(config=config).compliance_key()
    if source is None:
        raise VectorVueConfigError("profile", "signed answers are the integration API's")
    secret = source.get()
    body = _read(args.file)
    check = check_envelope(body, path=path, tenant=tenant, secret=secret)
    signature = body.get("signature") if isinstance(body, dict) else None
    signed_at = signature.get("signed_at") if isinstance(signature, dict) else None
    data = {
        "status": check.status,
        "problem": check.problem,
        "path": path,
        "tenant": tenant,
        "signed_at": signed_at if isinstance(signed_at, str) else None,
    }
    human = f"{check.status}: " + (
        f"signed at {signed_at} over {path} for tenant {tenant}"
        if check.status == VERIFIED
        else str(check.problem)
    )
    emit(args, data, human)
    if check.status == VERIFIED:
        return EXIT_OK
    return EXIT_REJECTED if check.status == INVALID else EXIT_USAGE


def _read(name: str) -> object:
    """The saved body, decoded as the server wrote it (not masked: the MAC is over it)."""
    if name == "-":
        raw = sys.stdin.buffer.read(_MAX_FILE_BYTES + 1)
    else:
        with open(name, "rb") as file:
            raw = file.read(_MAX_FILE_BYTES + 1)
    if len(raw) > _MAX_FILE_BYTES:
        raise VectorVueConfigError("FILE", f"is larger than {_MAX_FILE_BYTES:,} bytes")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise VectorVueConfigError("FILE", "is not a JSON response body") from None
