"""The ``ibkr-exec`` command line: demo | simulate | diagrams | trace."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ibkr_exec import __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per job."""
    parser = argparse.ArgumentParser(
        prog="ibkr-exec",
        description="Order execution for Interactive Brokers as supervised state-machine actors.",
    )
    parser.add_argument("--version", action="version", version=f"ibkr-exec {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_diagrams(commands)
    _add_simulate(commands)
    return parser


def _add_simulate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``ibkr-exec simulate``: a wire-level TWS simulator to point clients and strategies at."""
    from ibkr_exec.sim import cli as sim_cli

    cmd = commands.add_parser("simulate", help="run a simulated TWS (FakeTWS) until interrupted")
    sim_cli.add_arguments(cmd)
    cmd.set_defaults(handler=sim_cli.run)


def _add_diagrams(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = commands.add_parser(
        "diagrams",
        help="regenerate the state diagrams (Mermaid, DOT, SVG) from the lifecycle tables",
    )
    cmd.add_argument("--out", default="diagrams", help="output folder (default: diagrams)")
    cmd.add_argument(
        "--no-svg", action="store_true", help="skip SVG even when Graphviz dot is installed"
    )
    cmd.set_defaults(handler=_run_diagrams)


def _run_diagrams(args: argparse.Namespace) -> int:
    from ibkr_exec.diagrams import dot_available, write_diagrams

    svg = False if args.no_svg else None
    for path in write_diagrams(args.out, svg=svg):
        print(f"wrote {path}")
    if svg is None and not dot_available():
        print("note: Graphviz dot not found; SVGs not written (apt-get install graphviz)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        print(f"ibkr-exec {__version__}")
        parser.print_help()
        return 0
    return int(args.handler(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
