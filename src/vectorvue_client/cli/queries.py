"""`health`, `status REQUEST_ID` and `config check`."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import msgspec

from vectorvue_client.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_UNREACHABLE,
    emit,
    open_client,
    setting_flags,
    table,
)
from vectorvue_client.config import SECRET_VARIABLE_SETTINGS, VectorVueConfig, diagnose
from vectorvue_client.domain.errors import VectorVueAPIError, VectorVueConfigError


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
    """Every setting with its value and where it came from, each invalid one (and each
    unknown name) marked with the rule it breaks: all of them, not only the first. Exit 2
    with the first problem's line when there is one, 1 when a secret the configuration
    needs is not set, else 0. Credentials are never shown, only whether the variable that
    should hold one is set; nor is an invalid value (it may be a secret pasted into the
    wrong variable), nor an unknown variable's."""
    found = diagnose(toml_path=args.config, flags=setting_flags(args))
    values = found.values
    # Whether each variable that should hold a secret is set; never its value.
    present = {
        name: "set" if os.environ.get(variable) else "unset"
        for name in SECRET_VARIABLE_SETTINGS
        if (variable := values.get(name)) is not None
    }
    fields = [field.name for field in msgspec.structs.fields(VectorVueConfig)]
    names = [*fields, *(name for name in found.problems if name not in fields)]  # unknown last
    rows = []
    data: dict[str, dict[str, object]] = {}
    for name in names:
        source = found.sources.get(name, "-")
        entry: dict[str, object] = {"source": source}
        if name in values:
            entry["value"] = values[name]
            shown = repr(values[name])
        elif name not in fields:
            shown = "(not shown)"  # an unknown variable may hold anything, a secret too
        else:  # invalid (it may be a secret pasted into the wrong place), or not given
            shown = "(not set)" if source == "default" else "(invalid, not shown)"
        if name in present:
            entry["secret"] = present[name]
            shown += f"  ({present[name]})"
        problem = found.problems.get(name)
        if problem is not None:
            # "credential_sources[1]: ..." keeps the item's index.
            entry["problem"] = problem.rule if problem.field == name else str(problem)
        rows.append(("!" if problem else "", name, shown, source, entry.get("problem", "")))
        data[name] = entry
    missing = [
        name for name, state in present.items() if state == "unset" and _needed(values, name)
    ]
    human = table(rows, ("", "setting", "value", "from", "problem"))
    if missing:
        human += "\n\nnot set: " + ", ".join(f"{n} ({values[n]})" for n in missing)
    invalid = list(found.problems)
    emit(args, {"settings": data, "missing_secrets": missing, "invalid": invalid}, human)
    if (first := found.error()) is not None:
        if len(invalid) > 1:
            others = ", ".join(invalid[1:])
            raise VectorVueConfigError(first.field, f"{first.rule} (and also: {others})")
        raise first
    return EXIT_REJECTED if missing else EXIT_OK


def _needed(values: Mapping[str, Any], name: str) -> bool:
    """Whether the secret `name` points at is used by these settings (an invalid setting,
    absent from `values`, counts as its default's opposite: not needed)."""
    gateway = values.get("profile") == "telemetry-gateway"
    sources = values.get("credential_sources", ())
    vault = "vault" in sources
    vault_auth = values.get("vault_auth")
    needed = {
        "api_key_env": not gateway and values.get("auth") == "token" and "env" in sources,
        "signing_secret_env": not gateway,
        "signing_key_env": gateway and values.get("signing_key_file") is None,
        "login_password_env": values.get("auth") == "login",
        "vault_token_env": vault and vault_auth == "token",
        "vault_role_id_env": vault and vault_auth == "approle",
        "vault_secret_id_env": vault and vault_auth == "approle",
    }
    return needed.get(name, False)
