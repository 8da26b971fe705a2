"""`vectorvue-client bridge`: consume SpectraStrike's RabbitMQ queue and deliver it to
VectorVue until Ctrl-C or SIGTERM (ADR 0031); `bridge retry`: put its dead letters back in
line.

The bridge runs on a thread of its own; the main thread holds the stop signals and takes
them itself (stop_signals: a signal taken by another thread would never wake it), waking
between waits to say when the bridge is ready or reconnecting. On a stop, the
batch in delivery is finished and settled, messages received but not sent are given back,
and the summary is printed.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import TYPE_CHECKING, Final

from vectorvue_client.cli import stop_signals
from vectorvue_client.cli.common import EXIT_OK, EXIT_USAGE, emit, error, settings

if TYPE_CHECKING:
    from vectorvue_client.service.bridge import BridgeReport

LOOK_SECONDS: Final = 0.5  # how often the main thread looks at the bridge's readiness


def run(args: argparse.Namespace) -> int:
    """Run the bridge until a stop signal; exit 0 after a clean stop."""
    # Imported here: pika and the adapters load only for the commands that need them.
    from vectorvue_client.container import build_bridge

    config = settings(args).config
    ready = threading.Event()
    with stop_signals.held():
        bridge = build_bridge(config, create=args.declare, ready=ready)
        stop = threading.Event()
        failure: list[BaseException] = []

        def work() -> None:
            try:
                bridge.run(stop)
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                failure.append(exc)

        thread = threading.Thread(target=work, name="vectorvue-bridge", daemon=True)
        thread.start()
        try:
            _watch(thread, ready, bridge.report, config.broker_queue)
        finally:
            stop.set()
            thread.join()
            bridge.close()
    if failure:
        raise failure[0]
    report = bridge.report
    human = (
        f"received {report.received}, acked {report.acked}, dead-lettered "
        f"{report.dead_lettered}, retried later {report.retried}, given back {report.returned}, "
        f"items accepted {report.items_accepted}, reconnects {report.reconnects}"
    )
    emit(args, report.data(), human)
    return EXIT_OK


def retry(args: argparse.Namespace) -> int:
    """Move dead letters back to broker_queue (service.bridge_retry); print how many."""
    # Imported here, as in `run`: pika loads only for the bridge's commands.
    from vectorvue_client.container import Container
    from vectorvue_client.service.bridge import topology_of
    from vectorvue_client.service.bridge_retry import retry_dead_letters

    if args.declare is not None:  # `bridge --declare quorum retry`: said of the bridge
        error(
            "bridge retry does not take --declare (an option of the bridge)", exit_code=EXIT_USAGE
        )
        return EXIT_USAGE
    config = settings(args).config
    container = Container(config=config)
    report = retry_dead_letters(
        container.broker(),
        topology_of(config),
        container.clock(),
        limit=args.limit,
        reason_contains=args.reason_contains,
    )
    human = (
        f"{report.requeued} dead letter(s) back in line in {config.broker_queue}; "
        f"{report.skipped} looked at and left in {config.broker_dead_letter_queue}"
    )
    data = {
        "requeued": report.requeued,
        "skipped": report.skipped,
        "queue": config.broker_queue,
        "dead_letter_queue": config.broker_dead_letter_queue,
    }
    emit(args, data, human)
    return EXIT_OK


def _watch(
    thread: threading.Thread, ready: threading.Event, report: BridgeReport, queue: str
) -> None:
    """Until a stop signal (or the bridge's end): one line on stderr whenever the bridge
    becomes ready, and whenever it fails to reach the broker (the health line an operator
    or a probe reads)."""
    was_ready = False
    failures = 0
    while thread.is_alive():
        if ready.is_set() and not was_ready:
            print(f"bridge: ready, consuming {queue}", file=sys.stderr, flush=True)
        elif report.reconnects != failures:
            print(
                f"bridge: broker unavailable, reconnecting: {report.last_error}",
                file=sys.stderr,
                flush=True,
            )
        was_ready, failures = ready.is_set(), report.reconnects
        if stop_signals.wait(LOOK_SECONDS):
            print("bridge: stopping", file=sys.stderr, flush=True)
            return
