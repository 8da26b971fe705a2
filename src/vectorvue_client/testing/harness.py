"""A client wired entirely with fakes, for tests of code that embeds the client."""

from __future__ import annotations

from dataclasses import dataclass, field

from vectorvue_client.config import VectorVueConfig
from vectorvue_client.service.client import VectorVueClient
from vectorvue_client.testing.fakes import (
    FakeClock,
    FakeCredentialSource,
    FakeEntropy,
    FakeTransport,
    MemoryAuditSink,
    RecordingSigner,
)
from vectorvue_client.testing.outbox_memory import MemoryOutbox

TEST_BASE_URL = "https://vectorvue.test"


@dataclass
class FakePorts:
    """One fake per port; `client()` wires them into a VectorVueClient."""

    transport: FakeTransport = field(default_factory=FakeTransport)
    credentials: FakeCredentialSource = field(
        default_factory=lambda: FakeCredentialSource("test-api-key")
    )
    signer: RecordingSigner = field(default_factory=RecordingSigner)
    audit: MemoryAuditSink = field(default_factory=MemoryAuditSink)
    clock: FakeClock = field(default_factory=FakeClock)
    entropy: FakeEntropy = field(default_factory=FakeEntropy)
    outbox: MemoryOutbox = field(default_factory=MemoryOutbox)

    def client(self, config: VectorVueConfig | None = None) -> VectorVueClient:
        """A client over these fakes (default config: a test URL, library defaults)."""
        return VectorVueClient(
            config=config or VectorVueConfig(base_url=TEST_BASE_URL),
            transport=self.transport,
            credentials=self.credentials,
            signer=self.signer,
            audit=self.audit,
            clock=self.clock,
            entropy=self.entropy,
            outbox=lambda: self.outbox,
        )
