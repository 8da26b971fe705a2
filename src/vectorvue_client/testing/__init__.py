"""What embedders use in their own tests: in-memory fakes of every port, and a client
wired with them (FakePorts)."""

from vectorvue_client.testing.fakes import (
    FAKE_EPOCH,
    FakeClock,
    FakeCredentialSource,
    FakeEntropy,
    FakeTransport,
    MemoryAuditSink,
    RecordingSigner,
    SentRequest,
    SignCall,
    json_response,
)
from vectorvue_client.testing.harness import TEST_BASE_URL, FakePorts

__all__ = [
    "FAKE_EPOCH",
    "TEST_BASE_URL",
    "FakeClock",
    "FakeCredentialSource",
    "FakeEntropy",
    "FakePorts",
    "FakeTransport",
    "MemoryAuditSink",
    "RecordingSigner",
    "SentRequest",
    "SignCall",
    "json_response",
]
