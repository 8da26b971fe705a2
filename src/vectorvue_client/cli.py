"""The `vectorvue-client` command line (operators' entry point)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vectorvue_client.client import VectorVueClient
from vectorvue_client.config import VectorVueConfig
from vectorvue_client.domain.errors import VectorVueError
from vectorvue_client.version import __version__

EXIT_OK = 0
EXIT_UNHEALTHY = 3
EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="vectorvue-client", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", help="TOML configuration file (default: VECTORVUE_* variables)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("health", help="check that VectorVue answers healthy")
    commands.add_parser("demo", help="run the client against an embedded local VectorVue")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from vectorvue_client.demo import run_demo

        return run_demo(sys.stdout)
    try:
        config = (
            VectorVueConfig.from_toml(args.config) if args.config else VectorVueConfig.from_env()
        )
        with VectorVueClient.from_config(config) as client:
            healthy = client.health_check()
    except VectorVueError as exc:
        print(f"vectorvue-client: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print("healthy" if healthy else "unhealthy")
    return EXIT_OK if healthy else EXIT_UNHEALTHY


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
