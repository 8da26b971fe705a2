"""The test node's ports: below the kernel's ephemeral range, so that nothing takes them
while the node is down for a restart (an outgoing connection's source port, or a client
retrying to connect that meets itself), and distinct from one another."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from vectorvue_client.testing.rabbitmq_node import EPHEMERAL_RANGE, RabbitMQNode


@pytest.mark.skipif(not EPHEMERAL_RANGE.exists(), reason="no ephemeral port range to read")
def test_a_nodes_ports_are_free_distinct_and_below_the_ephemeral_range(tmp_path: Path) -> None:
    lowest_ephemeral = int(EPHEMERAL_RANGE.read_text().split()[0])
    for _ in range(50):
        node = RabbitMQNode(tmp_path)  # constructing picks the ports; nothing starts
        ports = [node.port, node._dist_port, node._epmd_port]
        assert len(set(ports)) == 3
        assert all(port < lowest_ephemeral for port in ports), ports
        for port in ports:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", port))  # free when picked
