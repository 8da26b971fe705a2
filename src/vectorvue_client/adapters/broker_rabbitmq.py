"""The Broker port on RabbitMQ, with pika's BlockingConnection (ADR 0031).

One connection and one channel, in publisher-confirm mode, consuming the main queue with a
prefetch from the first `receive` on (a connection that only `take`s, as `bridge retry`
does, never holds a message of it); messages the consumer callback receives wait in a
list until `receive` hands them out. `take` reads another queue with basic.get. Every
pika or socket failure becomes a BrokerError: the broker redelivers what was not
acknowledged, and the bridge reconnects.

An `amqps://` URL is always verified (chain and host name) with a context built here,
which replaces whatever pika would derive from the URL (its `ssl_options` query argument
included): no URL or setting turns verification off.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final
from urllib.parse import urlsplit

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from vectorvue_client.domain.bridge import BrokerError, BrokerMessage, Topology
from vectorvue_client.domain.redaction import Secret, mask_known

PERSISTENT: Final = 2
NOT_FOUND: Final = 404  # AMQP's reply code for a queue that does not exist
# A consumer that stops reading for longer than this is cut off by the broker: the bridge
# reads between batches, and a batch's delivery is bounded by deadline_seconds.
HEARTBEAT_SECONDS: Final = 60
# OpenSSL's names of the TLS failures an operator fixes in the settings, and how: pika
# buries them in a StreamLostError or an IncompatibleProtocolError.
_TLS_CAUSES: Final = {
    "CERTIFICATE_REQUIRED": "the broker requires a client certificate (mutual TLS): set "
    "broker_client_cert and broker_client_key",
    "ALERT_UNKNOWN_CA": "the broker does not trust the issuer of our client certificate",
    "ALERT_BAD_CERTIFICATE": "the broker refused our client certificate",
    "ALERT_CERTIFICATE_EXPIRED": "the broker refused our client certificate as expired",
    "CERTIFICATE_VERIFY_FAILED": "the broker's certificate is not trusted or not for this "
    "host (broker_ca_bundle)",
    # TLS 1.3: a broker that wants a client certificate may close the connection before its
    # CERTIFICATE_REQUIRED alert is read, so the same refusal can surface as a bare EOF.
    "EOF occurred in violation of protocol": "the broker closed the TLS connection; if it "
    "requires a client certificate (mutual TLS), set broker_client_cert and broker_client_key",
}


class BrokerTlsSetupError(ValueError):
    """A CA bundle or client certificate that cannot be loaded; `setting` names the
    argument of `tls_context` ("ca_bundle" or "client_cert")."""

    def __init__(self, setting: str, rule: str) -> None:
        self.setting = setting
        self.rule = rule
        super().__init__(f"{setting}: {rule}")


def tls_context(ca_bundle: str | None, client_cert: tuple[str, str] | None) -> ssl.SSLContext:
    """A client context for an amqps:// broker: TLS 1.2 or later, the chain and the host
    name verified against `ca_bundle` (None: the system's CAs), presenting `client_cert`
    (certificate, key) when given. A file that cannot be loaded raises BrokerTlsSetupError now,
    not at every reconnection."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        if ca_bundle is None:
            context.load_default_certs()
        else:
            context.load_verify_locations(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        rule = f"the CA bundle {ca_bundle} cannot be loaded: {exc}"
        raise BrokerTlsSetupError("ca_bundle", rule) from exc
    if client_cert is not None:
        cert, key = client_cert
        try:
            context.load_cert_chain(cert, key, password=_refuse_passphrase)
        except (OSError, ssl.SSLError, ValueError) as exc:
            rule = f"{cert} with key {key} cannot be loaded: {exc}"
            raise BrokerTlsSetupError("client_cert", rule) from exc
    return context


def tls_for(url: Secret, tls: ssl.SSLContext | None) -> ssl.SSLContext | None:
    """The context an amqps:// `url` is verified with: `tls`, else one trusting the system's
    CAs. None for an amqp:// URL, which refuses a context it would not use (ValueError)."""
    if urlsplit(url.reveal()).scheme == "amqps":
        return tls or tls_context(None, None)
    if tls is not None:
        raise ValueError("a TLS context was given for an amqp:// URL, which would not use it")
    return None


def open_connection(
    url: Secret, tls: ssl.SSLContext | None, timeout: float
) -> pika.BlockingConnection:
    """A blocking connection to `url`, one attempt bounded by `timeout` s, heartbeats on;
    over TLS with `tls` (`tls_for`: the scheme alone decides TLS, whatever the URL's
    ssl_options argument says). pika's errors are raised as they are."""
    params = pika.URLParameters(url.reveal())
    params.heartbeat = HEARTBEAT_SECONDS
    params.socket_timeout = timeout
    params.blocked_connection_timeout = timeout * 3
    params.connection_attempts = 1
    host = urlsplit(url.reveal()).hostname or ""
    params.ssl_options = None if tls is None else pika.SSLOptions(tls, host)
    return pika.BlockingConnection(params)


def _refuse_passphrase() -> str:
    # Without a callback OpenSSL would prompt for the passphrase on the terminal.
    raise ValueError("the key is encrypted, and no passphrase is configured")


class RabbitMQBroker:
    """The Broker port on one RabbitMQ connection (reconnected by `connect`). `tls` is
    the context of an amqps:// URL (None: `tls_context(None, None)`); it is refused with
    an amqp:// URL, which would not use it."""

    def __init__(
        self,
        url: Secret,
        *,
        connect_timeout: float = 10.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._url = url
        self._tls = tls_for(url, tls)
        self._connect_timeout = connect_timeout
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._received: list[BrokerMessage] = []
        self._consume: tuple[str, int] | None = None  # (queue, prefetch) not yet consumed
        # Delivery tags of this channel not yet acked or requeued: what a multiple-ack
        # would also settle, so `ack` sends one only when it would settle no other.
        self._unsettled: set[int] = set()

    def connect(self, topology: Topology, prefetch: int, create: str | None) -> None:
        """(Re)connect, declare, and consume `topology.queue` (see ports.Broker)."""
        self._drop()
        with _broker_errors("connect"):
            self._connection = open_connection(self._url, self._tls, self._connect_timeout)
            channel = self._connection.channel()
            channel.confirm_delivery()
            # SpectraStrike's queue, as it declared it, is only checked: never redeclared
            # (other arguments would be refused, PRECONDITION_FAILED). `create` makes it
            # only where it does not exist yet.
            if create is None or self._exists(topology.queue):
                channel.queue_declare(topology.queue, passive=True)
            else:
                kind = {"x-queue-type": "quorum"} if create == "quorum" else None
                channel.queue_declare(topology.queue, durable=True, arguments=kind)
            channel.queue_declare(topology.dead_letters, durable=True)
            for name, ttl in topology.delay_queues().items():
                channel.queue_declare(
                    name,
                    durable=True,
                    arguments={
                        "x-message-ttl": ttl,
                        "x-dead-letter-exchange": "",
                        "x-dead-letter-routing-key": topology.queue,
                    },
                )
            self._channel = channel
            self._consume = (topology.queue, prefetch)

    def _exists(self, queue: str) -> bool:
        """Whether `queue` exists: a passive declare on a channel of its own, since the
        broker closes the channel of one that fails."""
        assert self._connection is not None
        probe = self._connection.channel()
        try:
            probe.queue_declare(queue, passive=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code == NOT_FOUND:
                return False
            raise
        probe.close()
        return True

    def _on_message(
        self,
        _channel: BlockingChannel,
        method: Any,
        properties: pika.BasicProperties,
        body: bytes,
    ) -> None:
        message = _message(method, properties, body)
        self._unsettled.add(message.tag)
        self._received.append(message)

    def receive(self, limit: int, wait: float) -> list[BrokerMessage]:
        """Up to `limit` received messages, waiting up to `wait` s for the first."""
        connection = self._open()
        with _broker_errors("receive"):
            if self._consume is not None:
                queue, prefetch = self._consume
                channel = self._open_channel()
                channel.basic_qos(prefetch_count=prefetch)
                channel.basic_consume(queue, self._on_message, auto_ack=False)
                self._consume = None
            connection.process_data_events(time_limit=0)  # what already arrived
            ends = time.monotonic() + wait
            while not self._received and (left := ends - time.monotonic()) > 0:
                connection.process_data_events(time_limit=left)
        out, self._received = self._received[:limit], self._received[limit:]
        return out

    def take(self, queue: str, limit: int) -> list[BrokerMessage]:
        """Up to `limit` messages from the head of `queue` (basic.get, unacknowledged)."""
        channel = self._open_channel()
        out: list[BrokerMessage] = []
        with _broker_errors("take"):
            while len(out) < limit:
                method, properties, body = channel.basic_get(queue, auto_ack=False)
                if method is None:  # get-empty
                    break
                message = _message(method, properties, body)
                self._unsettled.add(message.tag)
                out.append(message)
        return out

    def ack(self, tags: Sequence[int]) -> None:
        """Acknowledge each of `tags`: the oldest of them in one multiple-ack (each frame
        costs the broker more CPU than the message did), but only up to the first message
        this channel holds that is not among them, which a multiple-ack would settle too."""
        channel = self._open_channel()
        wanted = set(tags)
        upto = 0  # every unsettled tag up to here is wanted
        for tag in sorted(self._unsettled):
            if tag not in wanted:
                break
            upto = tag
        with _broker_errors("ack"):
            if upto:
                channel.basic_ack(upto, multiple=True)
            for tag in sorted(wanted):
                if tag > upto:
                    channel.basic_ack(tag)
        self._unsettled -= wanted

    def requeue(self, tags: Sequence[int]) -> None:
        """Nack each of `tags` with requeue."""
        channel = self._open_channel()
        with _broker_errors("requeue"):
            for tag in tags:
                channel.basic_nack(tag, requeue=True)
        self._unsettled -= set(tags)

    def publish(self, queue: str, body: bytes, headers: Mapping[str, Any]) -> None:
        """A confirmed, persistent, mandatory publish to `queue` (default exchange)."""
        channel = self._open_channel()
        with _broker_errors("publish"):
            channel.basic_publish(
                "",
                queue,
                body,
                pika.BasicProperties(delivery_mode=PERSISTENT, headers=dict(headers)),
                mandatory=True,
            )

    def depth(self, queue: str) -> int:
        """Ready messages of `queue` (a passive declare)."""
        channel = self._open_channel()
        with _broker_errors("depth"):
            frame = channel.queue_declare(queue, passive=True)
        return int(frame.method.message_count)

    def close(self) -> None:
        """Give back what was received and not handed out, then disconnect."""
        held, self._received = self._received, []
        if held and self._channel is not None:
            # When the connection is gone, the broker requeues them itself.
            with contextlib.suppress(BrokerError):
                self.requeue([m.tag for m in held])
        self._drop()

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self._received, self._consume = [], None
        self._unsettled = set()  # a new channel numbers its deliveries from 1
        if connection is not None and connection.is_open:
            # Closing a connection that is going away anyway.
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                connection.close()

    def _open(self) -> pika.BlockingConnection:
        if self._connection is None or not self._connection.is_open:
            raise BrokerError("not connected to the broker")
        return self._connection

    def _open_channel(self) -> BlockingChannel:
        self._open()
        if self._channel is None or not self._channel.is_open:
            raise BrokerError("the broker channel is closed")
        return self._channel


def _message(method: Any, properties: pika.BasicProperties, body: bytes) -> BrokerMessage:
    """A delivery (basic.deliver or basic.get-ok) as the port gives it."""
    headers = dict(properties.headers or {})
    return BrokerMessage(body, headers, int(method.delivery_tag), bool(method.redelivered))


@contextmanager
def _broker_errors(doing: str) -> Iterator[None]:
    """Every failure of pika or of the socket below it, as a BrokerError (masked: pika's
    text may quote the URL)."""
    try:
        yield
    except (pika.exceptions.AMQPError, OSError, ValueError) as exc:
        raise BrokerError(f"broker {doing} failed: {failure_text(exc)}") from None


def failure_text(exc: BaseException) -> str:
    """What a pika or socket failure says, with the fix of a TLS failure an operator makes
    in the settings first, and every known secret masked (pika's text may quote the URL)."""
    text = str(exc) or type(exc).__name__
    cause = next((why for name, why in _TLS_CAUSES.items() if name in text), None)
    return mask_known(text if cause is None else f"{cause}: {text}")
