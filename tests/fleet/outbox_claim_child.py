"""A process that claims items from a RabbitMQ outbox and then waits to be killed: the
test kills it with SIGKILL while it holds them. Arguments: URL QUEUE COUNT. Prints
"claimed N" once it holds N items."""

from __future__ import annotations

import sys
import threading

from vectorvue_client.adapters.outbox_rabbitmq import RabbitMQOutbox
from vectorvue_client.domain.redaction import Secret


def main() -> None:
    url, queue, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    outbox = RabbitMQOutbox(Secret(url), queue=queue, tls=None, now=lambda: 0.0)
    claimed = outbox.claim(count, 0.0)
    print("claimed", len(claimed), flush=True)
    threading.Event().wait()  # until SIGKILL


if __name__ == "__main__":
    main()
