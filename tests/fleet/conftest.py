"""One real RabbitMQ node for the whole session (it takes 15-20 s to start); tests share
it and keep apart by unique queue names. A test marked `restarts_broker` gets a node of its
own instead: see `rabbitmq`. Without rabbitmq-server the tests skip, saying so, except in
CI (CI=true), where the broker is installed and a skip would hide a hole."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from vectorvue_client.testing.rabbitmq_node import RabbitMQNode, available


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "restarts_broker: the test restarts the broker, on a node of its own"
    )


@contextmanager
def _node(name: str) -> Iterator[RabbitMQNode]:
    if not available():
        reason = "rabbitmq-server is not installed (apt-get install rabbitmq-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the fleet tests: {reason}")
        pytest.skip(reason)
    # Directly under /tmp: the node runs as the rabbitmq user, which cannot walk into
    # pytest's per-user temporary directories.
    directory = Path(tempfile.mkdtemp(prefix="vv-rabbitmq-"))
    try:
        with RabbitMQNode(directory, name=name) as node:
            yield node
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_rabbitmq() -> Iterator[RabbitMQNode]:
    """The session's node, started once and stopped at the end."""
    with _node("vvtest") as node:
        yield node


@pytest.fixture
def rabbitmq(request: pytest.FixtureRequest) -> Iterator[RabbitMQNode]:
    """A started node on 127.0.0.1: the session's, or one of the test's own for a test
    marked `restarts_broker`. The shared node is never restarted: a node recovers every
    durable queue before it listens again, and the session's gathers queues from every
    test (on a CI machine one did not listen again within 120 s, and every later test
    failed with it)."""
    if request.node.get_closest_marker("restarts_broker") is not None:
        with _node("vvown") as own:
            yield own
        return
    shared: RabbitMQNode = request.getfixturevalue("shared_rabbitmq")
    if not shared.answers():
        pytest.fail(f"the session's RabbitMQ node stopped answering: {shared.log_tail()}")
    yield shared


@pytest.fixture
def queue_name() -> str:
    """A queue name no other test uses."""
    return f"telemetry.events.{uuid.uuid4().hex[:12]}"
