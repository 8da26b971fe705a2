"""The gateway body is encoded once and completed per attempt, byte-identically to a full
encoding of the request."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from vectorvue_client.domain.encoding import encode
from vectorvue_client.domain.gateway import GatewayBody
from vectorvue_client.domain.models import GatewayPayload, GatewayRequest, SignedMetadata

TEXT = st.text(max_size=40)  # any characters: quotes, escapes, placeholder look-alikes
NONCE = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=128
)


@st.composite
def requests(draw: st.DrawFn) -> GatewayRequest:
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
    operator, campaign = draw(tricky.filter(bool)), draw(tricky.filter(bool))
    tenant = "10000000-0000-0000-0000-000000000001"
    return GatewayRequest(
        operator_id=operator,
        campaign_id=campaign,
        tenant_id=tenant,
        execution_hash="ab" * 32,
        timestamp=draw(st.integers(0, 10**10)),
        nonce=draw(NONCE),
        signed_metadata=SignedMetadata(
            tenant_id=tenant, operator_id=operator, campaign_id=campaign
        ),
        payload=payload,
    )


@given(requests(), st.integers(0, 10**10), NONCE)
def test_a_rendered_body_is_the_encoding_of_the_whole_request(
    request: GatewayRequest, timestamp: int, nonce: str
) -> None:
    """render(ts, nonce) is the encoding of the request with that timestamp and nonce,
    whatever the strings hold; no rendering is larger than `largest_size`."""
    body = GatewayBody.of(request)
    whole = msgspec.structs.replace(request, timestamp=timestamp, nonce=nonce)
    assert body.render(timestamp, nonce) == encode(whole)
    assert len(body.render(9_999_999_999, "n" * 128)) == body.largest_size


@given(requests(), st.integers(0, 10**10), NONCE, st.integers(0, 10**10), NONCE)
def test_attempts_differ_only_in_timestamp_and_nonce(
    gateway: GatewayRequest, ts1: int, n1: str, ts2: int, n2: str
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
