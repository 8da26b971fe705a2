"""One real RabbitMQ node for the whole session (it takes 15-20 s to start); tests share
it and keep apart by unique queue names. Without rabbitmq-server the tests skip, saying
so, except in CI (CI=true), where the broker is installed and a skip would hide a hole."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from vectorvue_client.testing.rabbitmq_node import RabbitMQNode, available


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[RabbitMQNode]:
    """A started node on 127.0.0.1, stopped at the end of the session."""
    if not available():
        reason = "rabbitmq-server is not installed (apt-get install rabbitmq-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the fleet tests: {reason}")
        pytest.skip(reason)
    # Directly under /tmp: the node runs as the rabbitmq user, which cannot walk into
    # pytest's per-user temporary directories.
    directory = Path(tempfile.mkdtemp(prefix="vv-rabbitmq-"))
    try:
        with RabbitMQNode(directory) as node:
            yield node
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def queue_name() -> str:
    """A queue name no other test uses."""
    return f"telemetry.events.{uuid.uuid4().hex[:12]}"
