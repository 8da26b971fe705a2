"""The `vectorvue-client` command line (ADR 0017): send files of SpectraStrike outputs,
check VectorVue and the configuration, manage the outbox, run a local receiver, a demo.

Exit codes: 0 everything delivered (or done), 1 some items rejected, refused or
dead-lettered, 2 usage or configuration error, 3 VectorVue unreachable. Errors are one
line on stderr; --debug adds the traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from vectorvue_client.cli import outbox_cmd, queries, receiver_cmd, send
from vectorvue_client.cli.common import (
    EXIT_REJECTED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    error,
)
from vectorvue_client.domain.errors import (
    VectorVueAPIError,
    VectorVueConfigError,
    VectorVueError,
    VectorVueOutboxError,
    VectorVueSerializationError,
    VectorVueTransportError,
)
from vectorvue_client.version import __version__


def _demo(args: argparse.Namespace) -> int:
    from vectorvue_client.demo import run_demo

    return run_demo(sys.stdout, as_json=args.json)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (every command and option)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="TOML settings ([vectorvue] table)")
    common.add_argument("--base-url", dest="base_url", help="VectorVue's https:// URL")
    common.add_argument("--profile", choices=("integration-api", "telemetry-gateway"))
    common.add_argument("--outbox-path", dest="outbox_path", metavar="PATH")
    common.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="any setting, as in docs/configuration.md (repeatable)",
    )
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument("--debug", action="store_true", help="tracebacks on errors")

    parser = argparse.ArgumentParser(
        prog="vectorvue-client",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("send", parents=[common], help="send a file of SpectraStrike outputs")
    p.add_argument("file", metavar="FILE|-", help="JSON, JSON array or JSON Lines; - for stdin")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--enqueue", action="store_true", help="store in the outbox, send later")
    mode.add_argument("--dry-run", action="store_true", help="validate and show, send nothing")
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="send the valid documents even if others are refused",
    )
    p.set_defaults(handler=send.run)

    p = commands.add_parser("health", parents=[common], help="is VectorVue healthy?")
    p.set_defaults(handler=queries.health)
    p = commands.add_parser("status", parents=[common], help="the ingest record of a request")
    p.add_argument("request_id", metavar="REQUEST_ID")
    p.set_defaults(handler=queries.status)

    p = commands.add_parser("config", parents=[common], help="configuration")
    sub = p.add_subparsers(dest="config_command", required=True, metavar="check")
    q = sub.add_parser("check", parents=[common], help="resolved settings and their sources")
    q.set_defaults(handler=queries.config_check)

    p = commands.add_parser("outbox", parents=[common], help="the durable outbox")
    sub = p.add_subparsers(dest="outbox_command", required=True, metavar="stats|drain|dead|retry")
    q = sub.add_parser("stats", parents=[common], help="counts by state")
    q.set_defaults(handler=outbox_cmd.stats)
    q = sub.add_parser("drain", parents=[common], help="deliver what is due")
    q.add_argument("--deadline", type=float, default=60.0, metavar="SECONDS")
    q.set_defaults(handler=outbox_cmd.drain)
    q = sub.add_parser("dead", parents=[common], help="dead letters and their reasons")
    q.add_argument("--limit", type=int, default=100)
    q.set_defaults(handler=outbox_cmd.dead)
    q = sub.add_parser("retry", parents=[common], help="put dead letters back in line")
    q.add_argument("keys", nargs="*", metavar="KEY")
    q.add_argument("--all", action="store_true")
    q.set_defaults(handler=outbox_cmd.retry)

    p = commands.add_parser(
        "receiver", parents=[common], help="run LocalVectorVue on 127.0.0.1 for manual tests"
    )
    p.add_argument("--signed", action="store_true", help="require HMAC request signatures")
    p.add_argument("--seconds", type=float, default=0.0, help="stop after this long")
    p.set_defaults(handler=receiver_cmd.run)

    p = commands.add_parser(
        "demo", parents=[common], help="both profiles against an embedded LocalVectorVue"
    )
    p.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except (VectorVueConfigError, VectorVueOutboxError) as exc:
        return _fail(args, exc, EXIT_USAGE)
    except VectorVueSerializationError as exc:
        return _fail(args, exc, EXIT_REJECTED)
    except VectorVueTransportError as exc:
        return _fail(args, exc, EXIT_UNREACHABLE)
    except VectorVueAPIError as exc:
        if exc.status_code in (401, 403):
            return _fail(args, exc, EXIT_USAGE)
        unavailable = exc.status_code >= 500 or exc.status_code in (408, 425, 429)
        return _fail(args, exc, EXIT_UNREACHABLE if unavailable else EXIT_REJECTED)
    except VectorVueError as exc:
        return _fail(args, exc, EXIT_USAGE)
    except OSError as exc:  # an unreadable input file, a full disk
        return _fail(args, exc, EXIT_USAGE)
    except KeyboardInterrupt:
        return 130
    return code


def _fail(args: argparse.Namespace, exc: BaseException, code: int) -> int:
    if args.debug:
        traceback.print_exception(exc)
    error(str(exc) if str(exc) else type(exc).__name__)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
