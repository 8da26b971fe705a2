"""The `vectorvue-client` command line: send files of SpectraStrike outputs to VectorVue,
check VectorVue and the configuration, manage the outbox, run a local receiver, a demo.

Exit codes: 0 everything delivered (or done), 1 some items rejected, refused,
unconfirmed or dead-lettered (including input documents that are not readable JSON), 2
usage or configuration error (including an input file that cannot be read at all, and a
global option given twice with different values), 3 VectorVue unreachable, 130
interrupted (Ctrl-C), 141 standard output closed early (a pipe to `head`: nothing more is
printed). A send ended by SIGTERM prints its summary, then ends by SIGTERM (143 in a
shell). However a send ends, it prints what was delivered and what was not.

Errors are one line on stderr; --debug adds the traceback. With --json, standard output
holds only the result, and each error is one JSON object on its own line of stderr:
{"error": TEXT, "exit_code": N}, with "field" and "rule" when the error names them and
"problems" (a list of {"field", "rule", "index"}) when a payload broke several rules.
The global options work before or after the command.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from vectorvue_client.cli import (
    bridge_cmd,
    cognitive_cmd,
    envelope_cmd,
    logs,
    outbox_cmd,
    queries,
    receiver_cmd,
    send,
)
from vectorvue_client.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_REJECTED,
    EXIT_STDOUT_CLOSED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    error,
    errors_as_json,
)
from vectorvue_client.cli.inputs import InputFileError
from vectorvue_client.cli.options import add_global_options
from vectorvue_client.cli.options import merge as merge_global_options
from vectorvue_client.domain.errors import (
    VectorVueAPIError,
    VectorVueError,
    VectorVueSerializationError,
    VectorVueTransportError,
)
from vectorvue_client.domain.redaction import mask_known
from vectorvue_client.version import __version__


def _demo(args: argparse.Namespace) -> int:
    receiver_cmd.require_testing_extra("demo")
    from vectorvue_client.demo import run_demo

    return run_demo(sys.stdout, as_json=args.json)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error reported as every other error is: one line (a JSON
    object with --json) naming where the full usage is, exit 2. The subcommands' parsers
    are of this class too (add_subparsers makes them of the parent's class)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.partition(" ")[2]  # "outbox retry"; "" for the top level
        where = f"{command}: " if command else ""
        error(f"{where}{message} (see {self.prog} --help)", exit_code=EXIT_USAGE)
        sys.exit(EXIT_USAGE)


# The top level's examples: the commands of a first hour, in the order they are met.
_EXAMPLES = """\
Examples:
  vectorvue-client demo
  vectorvue-client config check --base-url https://vectorvue.example
  vectorvue-client send findings.jsonl --dry-run
  vectorvue-client send findings.jsonl --enqueue
  vectorvue-client outbox drain --deadline 300
"""
# Bounds of `outbox drain --deadline` and `outbox dead --limit`: a week is longer than any
# drain an operator waits for, and a larger count would overflow SQLite's LIMIT.
_MAX_DEADLINE_SECONDS = 7 * 24 * 3600.0
_MAX_LIMIT = 1_000_000


def _deadline(text: str) -> float:
    """`--deadline`: a number of seconds, positive and at most a week."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= _MAX_DEADLINE_SECONDS:  # NaN and inf fail too
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds above 0 and at most {_MAX_DEADLINE_SECONDS:.0f} "
            f"(a week), got {text!r}"
        )
    return seconds


def _limit(text: str) -> int:
    """`--limit`: a whole number from 1 to _MAX_LIMIT."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= _MAX_LIMIT:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 1 to {_MAX_LIMIT}, got {text!r}"
        )
    return count


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (every command and option). The global options are declared at
    every level of the nesting, so they work before the command or after it (options.py).
    Every parser ends its help with one example (tests/integration/test_cli_help.py)."""
    parser = _Parser(
        prog="vectorvue-client",
        description=__doc__,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_global_options(parser, 0)
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        help="the command to run (each has its own --help)",
    )

    def command(
        group: argparse._SubParsersAction[_Parser],
        name: str,
        help_text: str,
        example: str,
        more: str = "",
    ) -> _Parser:
        """A command (or subcommand) with its help line, `more` below it, one example."""
        level = 1 if group is commands else 2  # a command, or a subcommand (outbox stats)
        sentence = help_text[0].upper() + help_text[1:]
        p = group.add_parser(
            name,
            help=help_text,
            description=sentence + ("" if sentence.endswith("?") else ".") + more,
            epilog=f"Example:\n  vectorvue-client {example}\n",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_global_options(p, level)
        return p

    p = command(
        commands, "send", "send a file of SpectraStrike outputs", "send findings.jsonl --enqueue"
    )
    p.add_argument(
        "file",
        metavar="FILE|-",
        help=(
            "JSON Lines (read line by line), or one JSON array or object (read whole); "
            "- for standard input (spooled to a private temporary file)"
        ),
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--enqueue", action="store_true", help="store in the outbox, send later")
    mode.add_argument(
        "--dry-run",
        action="store_true",
        help=(
            "check and show what would be sent, send nothing (with --json: the payloads "
            "themselves); needs no base_url"
        ),
    )
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="send the valid documents even if others are refused",
    )
    p.set_defaults(handler=send.run)

    p = command(
        commands, "health", "is VectorVue healthy?", "health --base-url https://vectorvue.example"
    )
    p.set_defaults(handler=queries.health)
    p = command(
        commands,
        "status",
        "the ingest record of a request",
        "status 0b6f2c1e-5d4a-4c3b-9e8f-7a6b5c4d3e2f --json",
    )
    p.add_argument(
        "request_id",
        metavar="REQUEST_ID",
        help="a request id VectorVue gave, as `send` shows it (table or --json)",
    )
    p.set_defaults(handler=queries.status)

    p = command(
        commands,
        "envelope",
        "signed answers of the integration API",
        "envelope verify answer.json --path /api/v1/integrations/spectrastrike/events "
        "--tenant 10000000-0000-4000-8000-000000000001",
    )
    sub = p.add_subparsers(
        dest="envelope_command", required=True, metavar="verify", help="what to do with it"
    )
    q = command(
        sub,
        "verify",
        "check the signature of a saved response body with the compliance signing key",
        "envelope verify answer.json --path /api/v1/integrations/spectrastrike/events/batch "
        "--tenant 10000000-0000-4000-8000-000000000001 --json",
        "\n\nThe key is read from the variable named by compliance_key_env (never a flag).\n"
        "Exit 0 verified, 1 invalid (the check that failed is named), 2 unsigned or not\n"
        "checkable (no key configured or set, a path VectorVue does not sign, not JSON).",
    )
    q.add_argument("file", metavar="FILE|-", help="the response body as saved (- for stdin)")
    q.add_argument(
        "--path",
        required=True,
        metavar="PATH",
        help="the request path the answer came from; for GET .../ingest/status/ID the path "
        "with the id or the template .../ingest/status/{request_id}",
    )
    q.add_argument(
        "--tenant",
        required=True,
        metavar="TENANT",
        help="the tenant_id claim of the bearer token the request was sent with (a UUID)",
    )
    q.set_defaults(handler=envelope_cmd.verify)

    p = command(commands, "config", "the configuration", "config check --config vectorvue.toml")
    sub = p.add_subparsers(
        dest="config_command", required=True, metavar="check", help="what to do with it"
    )
    q = command(
        sub,
        "check",
        "every setting, its value and where it came from; invalid ones marked",
        "config check --json",
        "\n\nExit 0 when every setting is valid, 1 when a secret the configuration needs is\n"
        "not set (its variable is named, never its value), 2 when a setting is invalid:\n"
        "every setting is still listed, each invalid one with the rule it breaks.",
    )
    q.set_defaults(handler=queries.config_check)

    p = command(commands, "outbox", "the durable outbox", "outbox stats")
    sub = p.add_subparsers(
        dest="outbox_command",
        required=True,
        metavar="stats|drain|dead|retry",
        help="what to do with it",
    )
    q = command(
        sub, "stats", "counts by state, and when the next item is due", "outbox stats --json"
    )
    q.set_defaults(handler=outbox_cmd.stats)
    q = command(sub, "drain", "deliver what is due", "outbox drain --deadline 300")
    q.add_argument(
        "--deadline",
        type=_deadline,
        default=60.0,
        metavar="SECONDS",
        help="stop after SECONDS (above 0, at most a week; default 60); the rest stays pending",
    )
    q.set_defaults(handler=outbox_cmd.drain)
    q = command(sub, "dead", "dead letters and their reasons", "outbox dead --limit 20")
    q.add_argument(
        "--limit",
        type=_limit,
        default=100,
        metavar="N",
        help=f"show at most N dead letters, the oldest first (1-{_MAX_LIMIT}; default 100)",
    )
    q.set_defaults(handler=outbox_cmd.dead)
    q = command(sub, "retry", "put dead letters back in line", "outbox retry --all")
    q.add_argument(
        "keys", nargs="*", metavar="KEY", help="the key of a dead letter, as `outbox dead` lists it"
    )
    q.add_argument("--all", action="store_true", help="every dead letter (instead of KEYs)")
    q.set_defaults(handler=outbox_cmd.retry)

    p = command(
        commands,
        "feedback",
        "the gateway's feedback adjustments for a tenant, verified",
        "feedback 0b6f2c1e-5d4a-4c3b-9e8f-7a6b5c4d3e2f --limit 50 --json",
        "\n\nTelemetry gateway only. The answer is trusted only after every check, in order:\n"
        "shape, algorithm, schema_version, kid (in feedback_keyring_file), freshness, replay,\n"
        "signature. A failed check is named and exits 1; so do items dropped by the per-item\n"
        "checks (tenant, fingerprint, attestation_hash, timestamp, item_schema_version).",
    )
    p.add_argument("tenant", metavar="TENANT", help="the tenant id (36 hex digits and dashes)")
    p.add_argument(
        "--limit",
        type=int,
        default=100,
        metavar="N",
        help="adjustments of the tenant's last N graphs (1-1000; default 100)",
    )
    p.set_defaults(handler=cognitive_cmd.feedback)

    p = command(commands, "graph", "execution graphs (telemetry gateway)", "graph push run.json")
    sub = p.add_subparsers(
        dest="graph_command", required=True, metavar="push", help="what to do with one"
    )
    q = command(
        sub,
        "push",
        "push one execution graph to the gateway",
        "graph push run-42.graph.json --json",
        "\n\nFILE holds one JSON object: execution_fingerprint (64 hex) and graph (an object),\n"
        "optionally operator_id, tenant_id, attestation_measurement_hash (default: the\n"
        "configured ones) and schema_version. Every rule is checked before sending; a\n"
        "graph.target_urn that is not 1-512 characters is refused.",
    )
    q.add_argument("file", metavar="FILE|-", help="the graph's JSON file; - for standard input")
    q.set_defaults(handler=cognitive_cmd.graph_push)

    p = command(
        commands,
        "bridge",
        "deliver SpectraStrike's RabbitMQ queue to VectorVue until Ctrl-C or SIGTERM",
        "bridge retry --limit 100 --json",
        "\n\nConsumes broker_queue (SpectraStrike's telemetry.events) on the broker whose URL is\n"
        "in the variable named by broker_url_env (VECTORVUE_BROKER_URL), delivers through the\n"
        "configured profile, and acks a message only after VectorVue's verdict on all of it:\n"
        "refused and unreadable messages go to broker_dead_letter_queue with the reason in\n"
        "x-vv-* headers, transient failures wait in a delay queue and come back, until\n"
        "bridge_max_attempts. Run as many bridges on the queue as you like. Ctrl-C or SIGTERM:\n"
        "the batch in delivery is finished, the rest given back, a summary printed, exit 0.\n"
        "Run it with `vectorvue-client bridge --json`; `bridge retry` puts dead letters back.",
    )
    p.add_argument(
        "--declare",
        choices=("classic", "quorum"),
        default=None,
        help="create broker_queue (durable, of this kind) when it does not exist; without it "
        "the queue must exist and is only checked, never redeclared",
    )
    p.set_defaults(handler=bridge_cmd.run)
    sub = p.add_subparsers(
        dest="bridge_command",
        metavar="retry",
        help="instead of running the bridge (without it: run the bridge)",
    )
    q = command(
        sub,
        "retry",
        "put dead letters back in line: from broker_dead_letter_queue to broker_queue",
        "bridge retry --reason-contains http_503 --limit 100",
        "\n\nThe oldest first. Each one is published to broker_queue (confirmed, persistent)\n"
        "before it leaves the dead letters: an interruption can leave one in both queues,\n"
        "never in neither. It gets all of bridge_max_attempts again; its x-vv-history keeps\n"
        "its past, with a line saying it was put back. The dead letters not chosen stay,\n"
        "in their order.",
    )
    q.add_argument(
        "--limit",
        type=_limit,
        default=None,
        metavar="N",
        help=f"put back at most N dead letters (1-{_MAX_LIMIT}; default: all those chosen)",
    )
    q.add_argument(
        "--reason-contains",
        metavar="TEXT",
        default=None,
        help="only the dead letters whose reason (x-vv-reason) contains TEXT, in any letter "
        "case (default: all)",
    )
    q.set_defaults(handler=bridge_cmd.retry)

    p = command(
        commands,
        "receiver",
        "run LocalVectorVue on 127.0.0.1 for manual tests",
        "receiver --port 8443 --seconds 600",
    )
    p.add_argument("--signed", action="store_true", help="require HMAC request signatures")
    p.add_argument(
        "--seconds",
        type=float,
        default=0.0,
        help="stop after this long (default 0: run until Ctrl-C)",
    )
    p.add_argument(
        "--port",
        type=receiver_cmd.port_number,
        metavar="N",
        default=0,
        help="listen on 127.0.0.1:N (default 0: a free port, printed)",
    )
    p.set_defaults(handler=receiver_cmd.run)

    p = command(commands, "demo", "both profiles against an embedded LocalVectorVue", "demo --json")
    p.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    # Known before parsing only from the words: a usage error must already honour it.
    errors_as_json("--json" in (sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    conflict = merge_global_options(args)
    errors_as_json(bool(getattr(args, "json", False)))
    if conflict is not None:
        error(conflict, exit_code=EXIT_USAGE)
        return EXIT_USAGE
    logs.install(args)
    try:
        code: int = args.handler(args)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at interpreter exit
    except BrokenPipeError:
        return _stdout_closed()
    except VectorVueSerializationError as exc:
        return _fail(args, exc, EXIT_REJECTED)
    except VectorVueTransportError as exc:
        return _fail(args, exc, EXIT_UNREACHABLE)
    except VectorVueAPIError as exc:
        if exc.status_code in (401, 403):
            return _fail(args, exc, EXIT_USAGE)
        unavailable = exc.status_code >= 500 or exc.status_code in (408, 425, 429)
        return _fail(args, exc, EXIT_UNREACHABLE if unavailable else EXIT_REJECTED)
    # The configuration, the outbox file, an input file that cannot be read at all (missing,
    # not UTF-8...), a full disk.
    except (VectorVueError, InputFileError, OSError) as exc:
        return _fail(args, exc, EXIT_USAGE)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return code


def _fail(args: argparse.Namespace, exc: BaseException, code: int) -> int:
    if args.debug:
        # Masked too: the chain holds library exceptions, whose words are not ours.
        shown = mask_known("".join(traceback.format_exception(exc)))
        print(shown, file=sys.stderr, end="")
    problems = getattr(exc, "problems", ())
    error(
        str(exc) if str(exc) else type(exc).__name__,
        exit_code=code,
        field=getattr(exc, "field", None),
        rule=getattr(exc, "rule", None),
        problems=[{"field": p.field, "rule": p.rule, "index": p.index} for p in problems],
    )
    return code


def _stdout_closed() -> int:
    """The reader of standard output went away (`| head`): stop quietly, as `cat` does.
    What is still buffered goes to /dev/null, so the interpreter's last flush cannot fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_STDOUT_CLOSED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
