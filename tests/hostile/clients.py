"""What the client-level attacks share: a client wired by the production container for a
server on 127.0.0.1, events to send, and the check that each item went out under one
Idempotency-Key."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vectorvue_client import VectorVueClient, VectorVueConfig
from vectorvue_client.container import Container
from vectorvue_client.ports import Outbox
from vectorvue_client.testing import FakeClock, LocalVectorVue

BATCH_PATHS = ("/events/batch", "/findings/batch")


def wired_client(
    url: str,
    ca_path: str,
    tmp_path: Path,
    *,
    environ: dict[str, str],
    clock: FakeClock | None = None,
    outbox: Callable[[], Outbox] | None = None,
    **settings: Any,
) -> VectorVueClient:
    """A client built by the container, as in production, for the server at `url`: its
    outbox at tmp_path/outbox.sqlite3 unless `outbox` opens another, `environ` as the
    environment, and the FakeClock `clock` when one is given (sockets keep real time)."""
    config = VectorVueConfig(
        base_url=url,
        ca_bundle=ca_path,
        **{"outbox_path": str(tmp_path / "outbox.sqlite3"), **settings},
    )
    container = Container(config=config)
    container.environ.override(environ)
    if clock is not None:
        container.clock.override(clock)
    client: VectorVueClient = (
        container.client() if outbox is None else container.client(outbox=outbox)
    )
    return client


def local_client(
    receiver: LocalVectorVue, tmp_path: Path, clock: FakeClock | None = None, **settings: Any
) -> VectorVueClient:
    """`wired_client` for a LocalVectorVue, with its API token."""
    environ = {"VECTORVUE_API_KEY": receiver.api_token}
    return wired_client(
        receiver.url, receiver.ca_pem_path, tmp_path, environ=environ, clock=clock, **settings
    )


def events(count: int, prefix: str = "ev") -> list[dict[str, Any]]:
    """`count` valid integration-API events, ids `<prefix>-00000` on."""
    return [
        {
            "event_id": f"{prefix}-{n:05d}",
            "source_system": "spectrastrike",
            "event_type": "PORT_SCAN",
            "occurred_at": 1_795_564_800 + n,
            "severity": "low",
            "asset_ref": f"198.51.100.{n % 250}",
            "message": f"22/tcp open on host {n}",
        }
        for n in range(count)
    ]


def keys_by_item(receiver: LocalVectorVue) -> tuple[dict[str, set[str]], dict[str, set[bytes]]]:
    """For every item id sent in a batch, the Idempotency-Keys it went out under; for
    every key, the bodies sent under it."""
    keys: dict[str, set[str]] = defaultdict(set)
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for request in receiver.requests:
        if request.method != "POST" or not request.path.endswith(BATCH_PATHS):
            continue
        key = request.headers["idempotency-key"]
        bodies[key].add(request.body)
        for item in json.loads(request.body):
            keys[item.get("event_id") or item["finding_id"]].add(key)
    return keys, bodies


def assert_one_key_per_item(receiver: LocalVectorVue, expected_items: int) -> None:
    """Each of `expected_items` items went out under exactly one key, and each key always
    with the same bytes."""
    keys, bodies = keys_by_item(receiver)
    assert len(keys) == expected_items
    regrouped = {item: k for item, k in keys.items() if len(k) > 1}
    assert not regrouped, f"{len(regrouped)} item(s) went out under several keys"
    assert all(len(b) == 1 for b in bodies.values()), "a key went out with other bytes"
