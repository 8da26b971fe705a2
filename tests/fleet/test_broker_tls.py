"""The bridge against a broker that, like SpectraStrike's, speaks AMQP over TLS only and
requires a client certificate: it delivers with the broker_* settings, is refused without
a client certificate or with a CA that did not sign the broker's certificate (a
BrokerError saying which), refuses broker TLS settings with an amqp:// URL, and never
writes the URL's password."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trustme

from vectorvue_client.config import VectorVueConfig
from vectorvue_client.container import Container
from vectorvue_client.domain.bridge import BrokerError, Topology
from vectorvue_client.domain.errors import VectorVueConfigError, VectorVueOutboxError
from vectorvue_client.testing import LocalVectorVue
from vectorvue_client.testing.rabbitmq_node import NodeTls, RabbitMQNode, available

from .fleet_support import WAIT_SECONDS, body_of, envelope, until

SCRIPT = Path(sys.executable).with_name("vectorvue-client")
PASSWORD = "tls-bridge-pass-5d81e0"  # a test broker user's, looked for in every output


class Pki:
    """The files a bridge is given: the CA that signed the broker (and the client), a CA
    that signed neither, and the client's certificate and key."""

    def __init__(self, directory: Path, ca: trustme.CA) -> None:
        client = ca.issue_cert("bridge.vectorvue.test")
        self.ca = directory / "broker-ca.pem"
        self.other_ca = directory / "other-ca.pem"
        self.cert = directory / "client.pem"
        self.key = directory / "client.key"
        ca.cert_pem.write_to_path(str(self.ca))
        trustme.CA().cert_pem.write_to_path(str(self.other_ca))
        self.cert.write_bytes(b"".join(pem.bytes() for pem in client.cert_chain_pems))
        client.private_key_pem.write_to_path(str(self.key))


@pytest.fixture(scope="module")
def tls_broker() -> Iterator[tuple[RabbitMQNode, Pki]]:
    """A TLS-only node requiring client certificates, with a user whose password is
    PASSWORD; one per module (a node takes seconds to start)."""
    if not available():
        reason = "rabbitmq-server is not installed (apt-get install rabbitmq-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the fleet tests: {reason}")
        pytest.skip(reason)
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    tls = NodeTls(
        ca=ca.cert_pem.bytes(),
        cert_chain=b"".join(pem.bytes() for pem in server.cert_chain_pems),
        key=server.private_key_pem.bytes(),
    )
    # Directly under /tmp: the node runs as the rabbitmq user (see conftest.py).
    directory = Path(tempfile.mkdtemp(prefix="vv-rabbitmq-tls-"))
    client_files = Path(tempfile.mkdtemp(prefix="vv-broker-pki-"))
    try:
        with RabbitMQNode(directory, name="vvtls", tls=tls) as node:
            node.ctl("add_user", "bridge", PASSWORD)
            node.ctl("set_permissions", "-p", "/", "bridge", ".*", ".*", ".*")
            yield node, Pki(client_files, ca)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        shutil.rmtree(client_files, ignore_errors=True)


def bridge_url(node: RabbitMQNode, scheme: str = "amqps") -> str:
    return f"{scheme}://bridge:{PASSWORD}@127.0.0.1:{node.port}/%2F"


def broker_settings(pki: Pki, *, ca: Path | None = None, cert: bool = True) -> dict[str, Any]:
    settings = {"broker_ca_bundle": str(ca or pki.ca)}
    if cert:
        settings |= {"broker_client_cert": str(pki.cert), "broker_client_key": str(pki.key)}
    return settings


def connect_adapter(url: str, settings: dict[str, Any], queue: str) -> Any:
    """The adapter as the container builds it, connected (declaring `queue`)."""
    config = VectorVueConfig(base_url="https://vectorvue.invalid", **settings)
    broker = Container(config=config, environ={"VECTORVUE_BROKER_URL": url}).broker()
    broker.connect(Topology(queue, f"{queue}.dlq", 0.05, 0.2, max_attempts=3), 1, "classic")
    return broker


def bridge_env(env: dict[str, str], url: str) -> dict[str, str]:
    """This process's environment without its VECTORVUE_ variables, plus `env` and `url`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}
    return {**clean, **env, "VECTORVUE_BROKER_URL": url}


def run_bridge(env: dict[str, str], url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own console script
        [str(SCRIPT), "bridge", "--json"],
        env=bridge_env(env, url),
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
        check=False,
    )


def test_the_bridge_delivers_over_amqps_with_a_client_certificate(
    tls_broker: tuple[RabbitMQNode, Pki], local_vectorvue: LocalVectorVue, queue_name: str
) -> None:
    node, pki = tls_broker
    broker = connect_adapter(bridge_url(node), broker_settings(pki), queue_name)
    document = envelope(queue_name, 0)
    try:
        broker.publish(queue_name, body_of(document), {})
    finally:
        broker.close()
    env = {
        "VECTORVUE_BASE_URL": local_vectorvue.url,
        "VECTORVUE_CA_BUNDLE": local_vectorvue.ca_pem_path,
        "VECTORVUE_API_KEY": local_vectorvue.api_token,
        "VECTORVUE_BROKER_QUEUE": queue_name,
        "VECTORVUE_BROKER_DEAD_LETTER_QUEUE": f"{queue_name}.dlq",
        "VECTORVUE_BRIDGE_BACKOFF_BASE_SECONDS": "0.05",
        "VECTORVUE_BRIDGE_BACKOFF_MAX_SECONDS": "0.2",
        **{f"VECTORVUE_{k.upper()}": v for k, v in broker_settings(pki).items()},
    }
    process = subprocess.Popen(  # noqa: S603 - our own console script
        [str(SCRIPT), "bridge", "--json"],
        env=bridge_env(env, bridge_url(node)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        until(
            lambda: (
                document["event_id"] in local_vectorvue.accepted_events()
                or process.poll() is not None
            ),
            "the event stored",
        )
    finally:
        process.terminate()  # SIGTERM: settle, print the summary, exit 0
        out, err = process.communicate(timeout=WAIT_SECONDS)
    assert process.returncode == 0, err
    assert document["event_id"] in local_vectorvue.accepted_events(), err
    assert json.loads(out)["acked"] == 1
    assert PASSWORD not in out + err


def test_without_a_client_certificate_the_broker_refuses_and_the_error_says_so(
    tls_broker: tuple[RabbitMQNode, Pki], queue_name: str
) -> None:
    node, pki = tls_broker
    with pytest.raises(BrokerError) as caught:
        connect_adapter(bridge_url(node), broker_settings(pki, cert=False), queue_name)
    message = str(caught.value)
    assert "requires a client certificate" in message
    assert "broker_client_cert" in message
    assert PASSWORD not in message


def test_a_ca_that_did_not_sign_the_broker_is_refused(
    tls_broker: tuple[RabbitMQNode, Pki], queue_name: str
) -> None:
    node, pki = tls_broker
    with pytest.raises(BrokerError) as caught:
        connect_adapter(bridge_url(node), broker_settings(pki, ca=pki.other_ca), queue_name)
    message = str(caught.value)
    assert "CERTIFICATE_VERIFY_FAILED" in message and "broker_ca_bundle" in message
    assert PASSWORD not in message


def test_amqps_without_broker_ca_bundle_trusts_the_system_cas_only(
    tls_broker: tuple[RabbitMQNode, Pki], queue_name: str
) -> None:
    # No setting turns verification off: the test CA is not the system's, so it fails.
    node, pki = tls_broker
    settings = broker_settings(pki)
    del settings["broker_ca_bundle"]
    with pytest.raises(BrokerError, match="CERTIFICATE_VERIFY_FAILED"):
        connect_adapter(bridge_url(node), settings, queue_name)


def test_the_urls_ssl_options_cannot_replace_the_verified_context(
    tls_broker: tuple[RabbitMQNode, Pki], queue_name: str
) -> None:
    # With this argument pika alone would trust the right CA and present the client
    # certificate, and connect; the adapter's own context, trusting the other CA, refuses.
    node, pki = tls_broker
    options = {"cafile": str(pki.ca), "certfile": str(pki.cert), "keyfile": str(pki.key)}
    url = f"{bridge_url(node)}?ssl_options={quote(repr(options), safe='')}"
    with pytest.raises(BrokerError, match="CERTIFICATE_VERIFY_FAILED"):
        connect_adapter(url, broker_settings(pki, ca=pki.other_ca), queue_name)


@pytest.mark.parametrize("field", ["broker_ca_bundle", "broker_client_cert"])
def test_amqp_with_broker_tls_settings_is_a_config_error_naming_the_field(
    tls_broker: tuple[RabbitMQNode, Pki], local_vectorvue: LocalVectorVue, field: str
) -> None:
    node, pki = tls_broker
    settings = broker_settings(pki)
    if field == "broker_client_cert":
        del settings["broker_ca_bundle"]
    env = {
        "VECTORVUE_BASE_URL": local_vectorvue.url,
        "VECTORVUE_API_KEY": local_vectorvue.api_token,
        **{f"VECTORVUE_{k.upper()}": v for k, v in settings.items()},
    }
    done = run_bridge(env, bridge_url(node, "amqp"))
    assert done.returncode == 2, done.stderr
    assert f"{field}: is set but VECTORVUE_BROKER_URL is an amqp:// URL" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def test_a_client_certificate_needs_its_key() -> None:
    with pytest.raises(VectorVueConfigError) as caught:
        VectorVueConfig(base_url="https://vectorvue.invalid", broker_client_cert="client.pem")
    assert caught.value.field == "broker_client_cert"
    with pytest.raises(VectorVueConfigError) as caught:
        VectorVueConfig(base_url="https://vectorvue.invalid", broker_client_key="client.key")
    assert caught.value.field == "broker_client_key"


def test_broker_tls_files_that_cannot_be_loaded_are_config_errors_naming_the_field(
    tmp_path: Path,
) -> None:
    # No broker needed: the context is built, and its files loaded, with the bridge.
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate\n")
    url = f"amqps://bridge:{PASSWORD}@127.0.0.1:5671/%2F"
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"broker_ca_bundle": str(tmp_path / "missing.pem")}, "broker_ca_bundle", "not exist"),
        ({"broker_ca_bundle": str(not_pem)}, "broker_ca_bundle", "cannot be loaded"),
        (
            {"broker_client_cert": str(not_pem), "broker_client_key": str(not_pem)},
            "broker_client_cert",
            "cannot be loaded",
        ),
    ]
    for settings, field, rule in cases:
        config = VectorVueConfig(base_url="https://vectorvue.invalid", **settings)
        with pytest.raises(VectorVueConfigError) as caught:
            Container(config=config, environ={"VECTORVUE_BROKER_URL": url}).broker()
        assert caught.value.field == field and rule in caught.value.rule


def test_the_rabbitmq_outbox_uses_the_same_verified_tls(
    tls_broker: tuple[RabbitMQNode, Pki], local_vectorvue: LocalVectorVue, queue_name: str
) -> None:
    node, pki = tls_broker
    config = VectorVueConfig(
        base_url=local_vectorvue.url,
        ca_bundle=local_vectorvue.ca_pem_path,
        outbox_backend="rabbitmq",
        outbox_queue=queue_name,
        **broker_settings(pki),
    )
    environ = {
        "VECTORVUE_BROKER_URL": bridge_url(node),
        "VECTORVUE_API_KEY": local_vectorvue.api_token,
    }
    with Container(config=config, environ=environ).client() as client:
        client.enqueue(envelope(queue_name, 0))
        assert client.drain().delivered == 1
    assert len(local_vectorvue.accepted_events()) == 1
    # Trusting another CA, the same outbox cannot even open: the broker is not verified.
    untrusting = VectorVueConfig(
        base_url=local_vectorvue.url,
        outbox_backend="rabbitmq",
        outbox_queue=queue_name,
        **broker_settings(pki, ca=pki.other_ca),
    )
    with (
        Container(config=untrusting, environ=environ).client() as client,
        pytest.raises(VectorVueOutboxError, match="not trusted or not for this host"),
    ):
        client.enqueue(envelope(queue_name, 1))


def test_a_handshake_the_broker_cut_short_is_explained_both_ways_it_surfaces() -> None:
    # Under TLS 1.3 the broker's CERTIFICATE_REQUIRED alert may be read, or the connection
    # may be seen closed first (which of the two depends on timing): both say what to set.
    from vectorvue_client.adapters.broker_rabbitmq import failure_text

    for seen in (
        "SSLError(1, '[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate "
        "required (_ssl.c:2580)')",
        "Stream connection lost: SSLEOFError(8, 'EOF occurred in violation of protocol "
        "(_ssl.c:2406)')",
    ):
        text = failure_text(OSError(seen))
        assert "requires a client certificate" in text
        assert "broker_client_cert" in text
