"""Many distinct SpectraStrike outputs of every shape, made from the bundled samples.

Copy k of a sample gets its own ids, hosts and titles, so that every copy yields events
VectorVue must store separately; the same k always gives the same documents.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from vectorvue_client.samples import sample_path


def sample_documents(name: str) -> list[dict[str, Any]]:
    """The documents of bundled sample `name` (one per line for *.jsonl)."""
    text = sample_path(name).read_text()
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return [json.loads(text)]


ENVELOPES = sample_documents("broker-envelope.jsonl")
CLOUDEVENT = sample_documents("cloudevent.json")[0]
NMAP = sample_documents("nmap-result.json")[0]
METASPLOIT = sample_documents("metasploit-result.json")[0]
# Findings with a MITRE technique and no SQL-looking text: the ones both profiles accept.
FINDING = sample_documents("findings.jsonl")[0]


def _host(k: int, i: int) -> str:
    return f"198.51.{(k * 3 + i) // 250}.{(k * 3 + i) % 250 + 1}"


def mixed_outputs(count: int) -> list[dict[str, Any]]:
    """`count` documents cycling through every shape."""
    makers = [_envelope, _cloudevent, _nmap, _metasploit, _finding]
    return [makers[k % len(makers)](k) for k in range(count)]


def _envelope(k: int) -> dict[str, Any]:
    doc = copy.deepcopy(ENVELOPES[k % len(ENVELOPES)])
    doc["event_id"] = f"{doc['event_id'][:-6]}{k:06d}"
    doc["idempotency_key"] = doc["event_id"]
    if "target_host" in doc["attributes"]:
        doc["attributes"]["target_host"] = _host(k, 0)
    return doc


def _cloudevent(k: int) -> dict[str, Any]:
    doc = copy.deepcopy(CLOUDEVENT)
    doc["id"] = f"{doc['id'][:-6]}{k:06d}"
    doc["subject"] = _host(k, 0)
    return doc


def _nmap(k: int) -> dict[str, Any]:
    doc = copy.deepcopy(NMAP)
    for i, host in enumerate(doc["hosts"]):
        host["address"] = _host(k, i)
    doc["summary"]["scanned_hosts"] = [h["address"] for h in doc["hosts"]]
    return doc


def _metasploit(k: int) -> dict[str, Any]:
    doc = copy.deepcopy(METASPLOIT)
    doc["target_host"] = _host(k, 0)
    doc["job_id"] = str(k)
    doc["raw_execute_response"]["job_id"] = k
    return doc


def _finding(k: int) -> dict[str, Any]:
    doc = copy.deepcopy(FINDING)
    doc["title"] = f"{doc['title']} (#{k})"
    doc["asset_ref"] = _host(k, 0)
    doc["metadata"] = {
        **doc["metadata"],
        "tenant_id": "10000000-0000-0000-0000-000000000001",
        "campaign_id": "cmp-001",
        "operator_id": "op-001",
    }
    return doc
