"""`health`, `status REQUEST_ID` and `config check`."""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict

import msgspec

from vectorvue_client.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_UNREACHABLE,
    emit,
    open_client,
    settings,
    table,
)
from vectorvue_client.config import SECRET_VARIABLE_SETTINGS, VectorVueConfig
from vectorvue_client.domain.errors import VectorVueAPIError


def health(args: argparse.Namespace) -> int:
    """Exit 0 when VectorVue says healthy, 3 otherwise."""
    with open_client(args) as client:
        report = client.health()
    data = asdict(report)
    human = (
        f"healthy (version {report.version})" if report.healthy else f"unhealthy: {report.error}"
    )
    emit(args, data, human)
    return EXIT_OK if report.healthy else EXIT_UNREACHABLE


def status(args: argparse.Namespace) -> int:
    """The ingest record of a request id; exit 1 when VectorVue does not know it."""
    with open_client(args) as client:
        try:
            envelope = client.ingest_status(args.request_id)
        except VectorVueAPIError as exc:
            if exc.status_code != 404:
                raise
            emit(
                args,
                {"request_id": args.request_id, "found": False},
                f"no ingest record for {args.request_id}",
            )
            return EXIT_REJECTED
    data = envelope.data if isinstance(envelope.data, dict) else {}
    counts = data.get("counts", {})
    human = (
        f"{args.request_id}: {data.get('status')} "
        f"(accepted {counts.get('accepted')}, failed {counts.get('failed')} "
        f"of {counts.get('total')})"
    )
    emit(args, {"request_id": args.request_id, "found": True, **data}, human)
    return EXIT_OK


def config_check(args: argparse.Namespace) -> int:
    """The resolved configuration, each value with where it came from; credentials are
    never shown, only whether the variable that should hold one is set."""
    resolved = settings(args)
    config = resolved.config
    # Whether each variable that should hold a secret is set; never its value.
    present = {
        name: "set" if os.environ.get(variable) else "unset"
        for name in SECRET_VARIABLE_SETTINGS
        if (variable := getattr(config, name)) is not None
    }
    rows = []
    data: dict[str, object] = {}
    for field in msgspec.structs.fields(VectorVueConfig):
        value = getattr(config, field.name)
        shown = repr(value)
        if field.name in present:
            shown += f"  ({present[field.name]})"
        rows.append((field.name, shown, resolved.sources[field.name]))
        data[field.name] = {"value": value, "source": resolved.sources[field.name]}
        if field.name in present:
            data[field.name]["secret"] = present[field.name]  # type: ignore[index]
    missing = [
        name for name, state in present.items() if state == "unset" and _needed(config, name)
    ]
    human = table(rows, ("setting", "value", "from"))
    if missing:
        human += "\n\nnot set: " + ", ".join(f"{n} ({getattr(config, n)})" for n in missing)
    emit(args, {"settings": data, "missing_secrets": missing}, human)
    return EXIT_REJECTED if missing else EXIT_OK


def _needed(config: VectorVueConfig, name: str) -> bool:
    """Whether the secret `name` points at is used by this configuration."""
    gateway = config.profile == "telemetry-gateway"
    return {
        "api_key_env": not gateway
        and config.auth == "token"
        and "env" in config.credential_sources,
        "signing_secret_env": not gateway,
        "signing_key_env": gateway and config.signing_key_file is None,
        "login_password_env": config.auth == "login",
        "vault_token_env": "vault" in config.credential_sources and config.vault_auth == "token",
        "vault_role_id_env": "vault" in config.credential_sources
        and config.vault_auth == "approle",
        "vault_secret_id_env": "vault" in config.credential_sources
        and config.vault_auth == "approle",
    }.get(name, False)
