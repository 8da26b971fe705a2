"""What embedders use in their own tests: in-memory fakes of every port, a client wired
with them (FakePorts), and LocalVectorVue, a VectorVue over real HTTPS on 127.0.0.1 (both
profiles; its certificates need the `testing` extra, trustme). Its pytest fixtures are in
vectorvue_client.testing.pytest_plugin."""

from vectorvue_client.testing.broker_memory import MemoryBroker
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
from vectorvue_client.testing.outbox_memory import MemoryOutbox
from vectorvue_client.testing.receiver import ClientCert, LocalVectorVue
from vectorvue_client.testing.receiver_faults import Chaos

__all__ = [
    "FAKE_EPOCH",
    "TEST_BASE_URL",
    "Chaos",
    "ClientCert",
    "FakeClock",
    "FakeCredentialSource",
    "FakeEntropy",
    "FakePorts",
    "FakeTransport",
    "LocalVectorVue",
    "MemoryAuditSink",
    "MemoryBroker",
    "MemoryOutbox",
    "RecordingSigner",
    "SentRequest",
    "SignCall",
    "json_response",
]
