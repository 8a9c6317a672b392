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
    _add_demo(commands)
    _add_simulate(commands)
    _add_diagrams(commands)
    _add_trace(commands)
    return parser


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``ibkr-exec demo``: a narrated session against the embedded simulator (or a real TWS)."""
    from ibkr_exec.demo import add_arguments, run

    cmd = commands.add_parser(
        "demo",
        help="run a narrated trading session on an embedded simulator; write journal and traces",
    )
    add_arguments(cmd)
    cmd.set_defaults(handler=run)


def _add_trace(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``ibkr-exec trace``: one order's path through its lifecycle, from a journal."""
    cmd = commands.add_parser(
        "trace", help="draw one order's path through its lifecycle from an audit journal"
    )
    cmd.add_argument("journal", metavar="JOURNAL", help="the audit journal (JSON Lines)")
    cmd.add_argument("--order", required=True, metavar="ID", help="client_order_id or IB order id")
    cmd.add_argument(
        "--format",
        choices=("md", "mermaid", "svg", "dot"),
        default="md",
        help="md (default: summary, Mermaid diagram, timeline, anomalies), mermaid, svg or dot",
    )
    cmd.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    cmd.set_defaults(handler=_run_trace)


def _run_trace(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ibkr_exec import TraceError, load_trace, render_trace

    try:
        trace = load_trace(args.journal, args.order)
        text = render_trace(trace, args.format)
    except TraceError as error:
        print(f"ibkr-exec trace: error: {error}", file=sys.stderr)
        return 2
    for warning in trace.journal_warnings:
        print(f"ibkr-exec trace: warning: {warning}", file=sys.stderr)
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as error:
            print(f"ibkr-exec trace: error: cannot write {args.out}: {error}", file=sys.stderr)
            return 2
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


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
        print(
            "note: Graphviz dot not found; SVGs not written "
            "(apt-get install graphviz, or brew install graphviz)"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # a usage error, as for any command that needs a sub-command
        parser.print_help(sys.stderr)
        return 2
    return int(args.handler(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
