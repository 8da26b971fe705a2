"""vectorvue-client: deliver SpectraStrike telemetry and findings to VectorVue.

The public API is exactly what is re-exported here, plus the test kit
`vectorvue_client.testing` (its own `__all__`; its pytest plugin is
`vectorvue_client.testing.pytest_plugin`). `build_client`, `inspect_outbox` and `Container`
(whose providers an embedder overrides to swap an adapter) come from the composition root
(vectorvue_client.container), loaded on first use: importing it eagerly would load every
adapter and HTTP stack into code that only needs the models. `AsyncVectorVueClient` is
loaded on first use too, since it brings asyncio. `HttpRequest`, `HttpResponse`,
`HttpResult`, `TransportFailure` and `AuditRecord` are what a Transport or an AuditSink of
the embedder's own receives and returns.
"""

import logging
from typing import TYPE_CHECKING, Any

from vectorvue_client.audit import verify_audit_chain
from vectorvue_client.config import VectorVueConfig
from vectorvue_client.domain.audit import AuditRecord
from vectorvue_client.domain.audit_chain import ChainReport
from vectorvue_client.domain.cognitive import ExecutionGraph
from vectorvue_client.domain.envelope import ErrorDetail, ItemOutcome, ResponseEnvelope
from vectorvue_client.domain.envelope_signature import SignatureCheck, VectorVueSignatureError
from vectorvue_client.domain.errors import (
    Problem,
    TransportErrorKind,
    VectorVueAPIError,
    VectorVueConfigError,
    VectorVueError,
    VectorVueOutboxError,
    VectorVueSerializationError,
    VectorVueTransportError,
)
from vectorvue_client.domain.federation import FederationBundle
from vectorvue_client.domain.feedback import (
    DroppedAdjustment,
    FeedbackAdjustment,
    FeedbackCheck,
    FeedbackVerificationError,
    VerifiedFeedback,
)
from vectorvue_client.domain.http import HttpRequest, HttpResponse, HttpResult, TransportFailure
from vectorvue_client.domain.models import IntegrationEvent, IntegrationFinding
from vectorvue_client.domain.redaction import Secret
from vectorvue_client.log_scrub import scrub_logger
from vectorvue_client.service.client import VectorVueClient
from vectorvue_client.service.delivery import SendObserver
from vectorvue_client.version import __version__

if TYPE_CHECKING:
    from vectorvue_client.container import Container, build_client, inspect_outbox
    from vectorvue_client.service.aio import AsyncVectorVueClient


def __getattr__(name: str) -> Any:
    if name in ("Container", "build_client", "inspect_outbox"):
        from vectorvue_client import container

        return getattr(container, name)
    if name == "AsyncVectorVueClient":
        from vectorvue_client.service.aio import AsyncVectorVueClient

        return AsyncVectorVueClient
    raise AttributeError(f"module 'vectorvue_client' has no attribute {name!r}")


# A library does not print: without a handler configured by the application, audit
# warnings would reach stderr through logging's last-resort handler.
scrub_logger(logging.getLogger("vectorvue_client")).addHandler(logging.NullHandler())

__all__ = [
    "AsyncVectorVueClient",
    "AuditRecord",
    "ChainReport",
    "Container",
    "DroppedAdjustment",
    "ErrorDetail",
    "ExecutionGraph",
    "FederationBundle",
    "FeedbackAdjustment",
    "FeedbackCheck",
    "FeedbackVerificationError",
    "HttpRequest",
    "HttpResponse",
    "HttpResult",
    "IntegrationEvent",
    "IntegrationFinding",
    "ItemOutcome",
    "Problem",
    "ResponseEnvelope",
    "Secret",
    "SendObserver",
    "SignatureCheck",
    "TransportErrorKind",
    "TransportFailure",
    "VectorVueAPIError",
    "VectorVueClient",
    "VectorVueConfig",
    "VectorVueConfigError",
    "VectorVueError",
    "VectorVueOutboxError",
    "VectorVueSerializationError",
    "VectorVueSignatureError",
    "VectorVueTransportError",
    "VerifiedFeedback",
    "__version__",
    "build_client",
    "inspect_outbox",
    "verify_audit_chain",
]
