"""The telemetry gateway's request body, built once and completed per attempt.

Every attempt must carry a fresh timestamp and nonce, in the headers AND in the body. The
body is therefore encoded once with placeholders and split around them: an attempt only
splices in its own timestamp and nonce, so the rest of the bytes are identical on every
attempt and nothing is re-serialized. Field order stays the Struct's (models.GatewayRequest),
and a property test checks that the spliced bytes equal msgspec's encoding of the whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from vectorvue_client.domain.encoding import encode
from vectorvue_client.domain.models import GatewayPayload, GatewayRequest, SignedMetadata

_NONCE_MARK: Final = "\x00nonce-placeholder\x00"
_TIMESTAMP_MARK: Final = -7_777_777_777


@dataclass(frozen=True, slots=True)
class GatewayParts:
    """Everything of one gateway request but the attempt's timestamp and nonce."""

    operator_id: str
    campaign_id: str
    tenant_id: str
    execution_hash: str
    payload: GatewayPayload

    def request(self, timestamp: int, nonce: str) -> GatewayRequest:
        """The whole request Struct for one attempt."""
        return GatewayRequest(
            operator_id=self.operator_id,
            campaign_id=self.campaign_id,
            tenant_id=self.tenant_id,
            execution_hash=self.execution_hash,
            timestamp=timestamp,
            nonce=nonce,
            signed_metadata=SignedMetadata(
                tenant_id=self.tenant_id,
                operator_id=self.operator_id,
                campaign_id=self.campaign_id,
            ),
            payload=self.payload,
        )


@dataclass(frozen=True, slots=True)
class GatewayBody:
    """A gateway body encoded once; `render` completes it for one attempt."""

    head: bytes  # ... "timestamp":
    middle: bytes  # ,"nonce":
    tail: bytes  # ,"signed_metadata": ... }

    @classmethod
    def of(cls, parts: GatewayParts) -> GatewayBody:
        """Encode `parts` once, around placeholder timestamp and nonce."""
        whole = encode(parts.request(_TIMESTAMP_MARK, _NONCE_MARK))
        # Anchored on both keys and both marks: a string value that happens to contain the
        # placeholder digits cannot be mistaken for the field.
        anchor = b'"timestamp":%d,"nonce":%s' % (_TIMESTAMP_MARK, encode(_NONCE_MARK))
        if whole.count(anchor) != 1:
            raise AssertionError("the gateway body's timestamp and nonce were not found once")
        before, after = whole.split(anchor)
        return cls(head=before + b'"timestamp":', middle=b',"nonce":', tail=after)

    def render(self, timestamp: int, nonce: str) -> bytes:
        """The exact body of one attempt."""
        return self.head + str(timestamp).encode() + self.middle + encode(nonce) + self.tail
