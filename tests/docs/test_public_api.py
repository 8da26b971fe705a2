"""The public API the docs import from: `vectorvue_client.__all__`, every name of it
resolvable, and the heavy ones loaded only when first used."""

from __future__ import annotations

import subprocess
import sys

import vectorvue_client


def test_every_public_name_resolves() -> None:
    missing = [name for name in vectorvue_client.__all__ if not hasattr(vectorvue_client, name)]
    assert missing == []


def test_what_an_embedder_needs_is_public() -> None:
    """Swapping an adapter (Container), writing a Transport (HttpRequest, HttpResult,
    HttpResponse, TransportFailure) or an AuditSink (AuditRecord) needs no inner module."""
    needed = {"Container", "HttpRequest", "HttpResponse", "HttpResult", "TransportFailure"}
    assert needed | {"AuditRecord", "build_client", "inspect_outbox"} <= set(
        vectorvue_client.__all__
    )


def test_importing_the_package_loads_no_adapter_and_no_asyncio() -> None:
    """Container, build_client and inspect_outbox (the composition root, every adapter and
    HTTP stack) and AsyncVectorVueClient (asyncio) are loaded on first use."""
    probe = (
        "import sys, vectorvue_client\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('vectorvue_client.container',"
        " 'vectorvue_client.adapters', 'vectorvue_client.service.aio', 'asyncio')))\n"
        "print(heavy)\n"
        "vectorvue_client.Container\n"
        "print('vectorvue_client.container' in sys.modules)\n"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.splitlines() == ["[]", "True"], result.stderr


def test_what_the_cognitive_loop_and_signed_answers_return_or_raise_is_public() -> None:
    """query_feedback's VerifiedFeedback (its adjustments and drops, the check each names)
    and FeedbackVerificationError, what push_execution_graph and verify_federation_bundle
    accept, and VectorVueSignatureError with its SignatureCheck: no inner module needed."""
    from vectorvue_client.service.client import VectorVueClient

    needed = {
        "DroppedAdjustment",
        "ExecutionGraph",
        "FederationBundle",
        "FeedbackAdjustment",
        "FeedbackCheck",
        "FeedbackVerificationError",
        "SignatureCheck",
        "VectorVueSignatureError",
        "VerifiedFeedback",
    }
    assert needed <= set(vectorvue_client.__all__)
    hints = VectorVueClient.query_feedback.__annotations__
    assert hints["return"] in ("VerifiedFeedback", vectorvue_client.VerifiedFeedback)
    assert issubclass(vectorvue_client.FeedbackVerificationError, vectorvue_client.VectorVueError)
    assert issubclass(vectorvue_client.VectorVueSignatureError, vectorvue_client.VectorVueAPIError)
