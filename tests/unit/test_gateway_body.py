"""The gateway body is encoded once and completed per attempt, byte-identically to a full
encoding of the request."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from vectorvue_client.domain.encoding import encode
from vectorvue_client.domain.gateway import GatewayBody, GatewayParts
from vectorvue_client.domain.models import GatewayPayload, GatewayRequest

TEXT = st.text(max_size=40)  # any characters: quotes, escapes, placeholder look-alikes
NONCE = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=128
)


@st.composite
def parts(draw: st.DrawFn) -> GatewayParts:
    tricky = st.one_of(TEXT, st.just('"timestamp":-7777777777,"nonce":'), st.just("-7777777777"))
    payload = GatewayPayload(
        event_id=draw(st.from_regex(r"[A-Za-z0-9._:-]{1,20}", fullmatch=True)),
        event_type="nmap_host_scanned",
        source_system="spectrastrike",
        severity="low",
        observed_at="2026-11-25T09:14:03Z",
        mitre_techniques=["T1595"],
        mitre_tactics=["TA0043"],
        description=draw(st.one_of(st.none(), tricky)),
        attributes=draw(st.dictionaries(st.text(max_size=8), tricky, max_size=4)),
    )
    return GatewayParts(
        operator_id=draw(tricky.filter(bool)),
        campaign_id=draw(tricky.filter(bool)),
        tenant_id="10000000-0000-0000-0000-000000000001",
        execution_hash="ab" * 32,
        payload=payload,
    )


@given(parts(), st.integers(0, 10**10), NONCE)
def test_a_rendered_body_is_the_encoding_of_the_whole_request(
    gateway: GatewayParts, timestamp: int, nonce: str
) -> None:
    """render(ts, nonce) == encode(request(ts, nonce)), whatever the strings hold."""
    body = GatewayBody.of(gateway)
    assert body.render(timestamp, nonce) == encode(gateway.request(timestamp, nonce))


@given(parts(), st.integers(0, 10**10), NONCE, st.integers(0, 10**10), NONCE)
def test_attempts_differ_only_in_timestamp_and_nonce(
    gateway: GatewayParts, ts1: int, n1: str, ts2: int, n2: str
) -> None:
    """Two attempts decode to the same request but for the timestamp and nonce, which
    match what each attempt was given (so they can match its headers)."""
    body = GatewayBody.of(gateway)
    first = msgspec.json.decode(body.render(ts1, n1), type=GatewayRequest)
    second = msgspec.json.decode(body.render(ts2, n2), type=GatewayRequest)
    assert (first.timestamp, first.nonce) == (ts1, n1)
    assert (second.timestamp, second.nonce) == (ts2, n2)
    assert msgspec.structs.replace(first, timestamp=ts2, nonce=n2) == second
    assert first.signed_metadata.tenant_id == first.tenant_id
    assert first.signed_metadata.operator_id == first.operator_id
    assert first.signed_metadata.campaign_id == first.campaign_id
