"""A real RabbitMQ node for tests: Debian's rabbitmq-server, started on 127.0.0.1 with its
own data directory, ports and epmd, and stopped (or restarted on the same data) on demand.

Nothing here is a mock: the node is the broker the fleet runs on, started the way the
contract file's "Running a real RabbitMQ on one machine" describes. It needs the
`rabbitmq-server` package (`.ci/run` installs it); `available()` says whether it is there,
so that a test can skip with the reason rather than fail on a machine without it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import random
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Final, NamedTuple, Self

SERVER: Final = "/usr/sbin/rabbitmq-server"
CTL: Final = "/usr/sbin/rabbitmqctl"
START_TIMEOUT_SECONDS: Final = 120.0  # a cold node takes 6-20 s; a loaded CI machine more
STOP_TIMEOUT_SECONDS: Final = 60.0
LOOPBACK_DISTRIBUTION: Final = "-kernel inet_dist_use_interface {127,0,0,1}"


def available() -> bool:
    """Whether rabbitmq-server is installed (and this process may run it)."""
    return Path(SERVER).exists() and shutil.which("epmd") is not None


class NodeTls(NamedTuple):
    """PEM text of a TLS-only node: the CA that verifies client certificates, and the
    node's own certificate chain and key (trustme's, in the tests)."""

    ca: bytes
    cert_chain: bytes
    key: bytes


EPHEMERAL_RANGE: Final = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT: Final = 10_000


def _free_port(*taken: int) -> int:
    """A free port below the kernel's ephemeral range. A node keeps its ports across a
    restart, and while it is down a port in that range can be taken: by any outgoing
    connection's source port, or by a client retrying to connect to it, which then meets
    itself (a TCP self-connect) and holds the port the node needs. Never one of `taken`
    (the node's other ports: each probe's socket is closed before the next is bound)."""
    try:
        below = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        below = 0  # not Linux, or not readable: any free port will do
    candidates = (
        [random.randrange(LOWEST_PORT, below) for _ in range(100)]  # noqa: S311 - not a secret
        if below > LOWEST_PORT + 1000
        else []
    )
    for port in [*candidates, 0]:  # 0: the kernel's choice, when every candidate is taken
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken: another try
            if (bound := int(probe.getsockname()[1])) not in taken:
                return bound
    raise RuntimeError("no free port on 127.0.0.1")


class RabbitMQNode:
    """One isolated RabbitMQ node under `directory`, on 127.0.0.1 only.

    `start()` returns once the AMQP port accepts connections; `stop()` stops the node
    cleanly (`rabbitmqctl stop`) and the epmd it started; `restart()` does both on the
    same data, so durable queues and persistent messages survive, as after a real
    broker restart. The default user is guest/guest (`loopback_users = none`: allowed,
    since the node listens on 127.0.0.1 only).

    With `tls`, the node listens for AMQP over TLS only (no plain listener), as
    SpectraStrike's production broker does, and requires a client certificate issued by
    `tls.ca`; its files are written under `directory`, which the node's user can read.
    """

    def __init__(
        self, directory: Path, *, name: str = "vvtest", tls: NodeTls | None = None
    ) -> None:
        self.directory = directory
        self.tls = tls
        self.node = f"{name}@localhost"
        self.port = _free_port()
        self._dist_port = _free_port(self.port)
        self._epmd_port = _free_port(self.port, self._dist_port)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The AMQP URL of the node's default virtual host (amqps:// for a TLS node)."""
        scheme = "amqp" if self.tls is None else "amqps"
        return f"{scheme}://guest:guest@127.0.0.1:{self.port}/%2F"

    def _environment(self) -> dict[str, str]:
        base = self.directory
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self._dist_port),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_PID_FILE": str(base / "node.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),  # the node adds ".conf"
            "RABBITMQ_FEATURE_FLAGS_FILE": str(base / "feature_flags" / "flags"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self._epmd_port),
            # Erlang's distribution listener binds every interface unless told otherwise,
            # the node's and rabbitmqctl's alike: loopback only.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": LOOPBACK_DISTRIBUTION,
            "RABBITMQ_CTL_ERL_ARGS": LOOPBACK_DISTRIBUTION,
        }

    def _prepare(self) -> None:
        base = self.directory
        # The node refuses to start when it cannot create its feature-flags directory.
        for sub in ("mnesia", "log", "feature_flags"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq.conf").write_text(self._listeners() + "loopback_users = none\n")
        if os.geteuid() == 0:  # the packaged script runs the node as the rabbitmq user
            owner = pwd.getpwnam("rabbitmq")
            for path in (base, *base.rglob("*")):
                os.chown(path, owner.pw_uid, owner.pw_gid)

    def _listeners(self) -> str:
        if self.tls is None:
            return f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
        files = self.directory / "tls"
        files.mkdir(exist_ok=True)
        for file, pem in zip(("ca.pem", "cert.pem", "key.pem"), self.tls, strict=True):
            (files / file).write_bytes(pem)
        return (
            "listeners.tcp = none\n"
            f"listeners.ssl.default = 127.0.0.1:{self.port}\n"
            f"ssl_options.cacertfile = {files / 'ca.pem'}\n"
            f"ssl_options.certfile = {files / 'cert.pem'}\n"
            f"ssl_options.keyfile = {files / 'key.pem'}\n"
            "ssl_options.verify = verify_peer\n"
            "ssl_options.fail_if_no_peer_cert = true\n"
        )

    def start(self) -> Self:
        """Start the node and wait until its AMQP port accepts a connection."""
        self._prepare()
        log = (self.directory / "server.out").open("ab")
        self._process = subprocess.Popen(  # noqa: S603 - the packaged broker, fixed path
            [SERVER],
            env=self._environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._wait_until_listening()
        return self

    def _wait_until_listening(self) -> None:
        # A readiness poll of an external process, not a timing: each round is a connect
        # attempt, and the deadline only bounds a node that never comes up.
        pause = threading.Event()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited: {self._tail()}")
            if self.answers():
                return
            pause.wait(0.2)
        raise RuntimeError(
            f"rabbitmq-server did not listen in {START_TIMEOUT_SECONDS} s;"
            f" the end of its log: {self.log_tail()}"
        )

    def answers(self) -> bool:
        """Whether the listener answers as the node does once booted: the AMQP header on a
        plain node; a TLS server's handshake (done, or refused with an alert since this
        probe has no client certificate) on a TLS node."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                if self.tls is None:
                    sock.sendall(b"AMQP\x00\x00\x09\x01")  # the protocol header
                    return bool(sock.recv(1))
                probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                probe.check_hostname = False
                probe.verify_mode = ssl.CERT_NONE  # a readiness probe, not a client
                with probe.wrap_socket(sock):
                    return True
        except ssl.SSLError as exc:
            return not isinstance(exc, ssl.SSLEOFError)  # an alert: a TLS server answered
        except OSError:
            return False

    def _tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.directory / "server.out").read_text(errors="replace")[-2000:]
        return ""

    def log_tail(self, lines: int = 8) -> str:
        """The last lines of the node's own log: the boot step a slow start is at (a node
        recovering many queues says so there), or why it stopped."""
        log = self.directory / "log" / f"{self.node}.log"
        with contextlib.suppress(OSError):
            return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def ctl(self, *args: str) -> str:
        """`rabbitmqctl -n NODE ARGS...` against this node; its standard output."""
        done = subprocess.run(  # noqa: S603 - the packaged tool, fixed path
            [CTL, "-n", self.node, *args],
            env=self._environment(),
            capture_output=True,
            text=True,
            timeout=STOP_TIMEOUT_SECONDS,
            check=True,
        )
        return done.stdout

    def stop(self) -> None:
        """Stop the node cleanly, then its epmd; idempotent."""
        if self._process is None:
            return
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.ctl("stop")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(STOP_TIMEOUT_SECONDS)
        if self._process.poll() is None:
            os.killpg(self._process.pid, 9)
            self._process.wait(STOP_TIMEOUT_SECONDS)
        self._process = None
        # Only now: epmd refuses -kill while a node is still registered with it.
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(  # noqa: S603 - the packaged tool
                [shutil.which("epmd") or "epmd", "-port", str(self._epmd_port), "-kill"],
                env=self._environment(),
                capture_output=True,
                timeout=STOP_TIMEOUT_SECONDS,
                check=False,
            )

    def restart(self) -> None:
        """Stop and start again on the same data and port."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
