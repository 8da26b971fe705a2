"""Benchmark inputs: many distinct SpectraStrike outputs of every shape, from the samples."""

from __future__ import annotations

import copy
import json
from typing import Any

from vectorvue_client.samples import sample_path


def _docs(name: str) -> list[dict[str, Any]]:
    text = sample_path(name).read_text(encoding="utf-8")
    if name.endswith(".json"):
        return [json.loads(text)]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


_ENVELOPES = _docs("broker-envelope.jsonl")
_CLOUDEVENT = _docs("cloudevent.json")[0]
_NMAP = _docs("nmap-result.json")[0]
_METASPLOIT = _docs("metasploit-result.json")[0]
_FINDINGS = _docs("findings.jsonl")


def _host(k: int) -> str:
    return f"198.51.{k // 250 % 250}.{k % 250 + 1}"


def mixed_outputs(count: int) -> list[dict[str, Any]]:
    """`count` documents: broker envelopes, CloudEvents, nmap results, metasploit results
    and findings in turn, each copy with its own ids and hosts."""
    out = []
    for k in range(count):
        kind = k % 5
        if kind == 0:
            doc = copy.deepcopy(_ENVELOPES[k % len(_ENVELOPES)])
            doc["event_id"] = doc["idempotency_key"] = f"{doc['event_id'][:-8]}{k:08d}"
        elif kind == 1:
            doc = copy.deepcopy(_CLOUDEVENT)
            doc["id"], doc["subject"] = f"ce-{k:08d}", _host(k)
        elif kind == 2:
            doc = copy.deepcopy(_NMAP)
            for i, host in enumerate(doc["hosts"]):
                host["address"] = _host(k * 3 + i)
            doc["summary"]["scanned_hosts"] = [h["address"] for h in doc["hosts"]]
        elif kind == 3:
            doc = copy.deepcopy(_METASPLOIT)
            doc["target_host"], doc["job_id"] = _host(k), str(k)
        else:
            doc = copy.deepcopy(_FINDINGS[k % len(_FINDINGS)])
            doc["title"] = f"{doc['title']} #{k}"
        out.append(doc)
    return out


def integration_events(count: int, first: int = 0) -> list[dict[str, Any]]:
    """`count` events in the integration API's own shape, as an embedder sends them."""
    return [
        {
            "event_id": f"bench-{n:08d}",
            "source_system": "spectrastrike",
            "event_type": "PORT_SCAN",
            "occurred_at": "2026-11-25T09:14:03.512204Z",
            "severity": "low",
            "asset_ref": _host(n),
            "message": f"22/tcp open on {_host(n)}",
            "metadata": {"port": 22, "service": "ssh", "scan": "cmp-001"},
        }
        for n in range(first, first + count)
    ]
