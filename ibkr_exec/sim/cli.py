"""``ibkr-exec simulate``: run a FakeTWS until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

from ibkr_exec.sim.scenario import ScenarioError
from ibkr_exec.sim.server import FakeTWS

__all__ = ["add_arguments", "port_number", "run"]


def _price(text: str) -> tuple[str, Decimal]:
    symbol, sep, value = text.partition("=")
    try:
        if not sep or not symbol:
            raise InvalidOperation
        return symbol, Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"expected SYMBOL=PRICE, got {text!r}") from None


def port_number(text: str, *, minimum: int = 0) -> int:
    """An argparse type: a TCP port from ``minimum`` (0: any free port) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not minimum <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is between {minimum} and 65535, got {port}")
    return port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ibkr-exec simulate``."""
    parser.add_argument(
        "--port", type=port_number, default=7497, help="port to listen on (0: any free)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--scenario", help="TOML scenario file (server options, prices, faults)")
    parser.add_argument(
        "--price",
        action="append",
        type=_price,
        default=[],
        metavar="SYMBOL=PRICE",
        help="initial price of a symbol (repeatable)",
    )


def _error(message: str) -> int:
    print(f"ibkr-exec simulate: error: {message}", file=sys.stderr)
    return 2


async def _serve(args: argparse.Namespace) -> int:
    options: dict[str, Any] = {"host": args.host, "port": args.port}
    try:
        tws = (
            FakeTWS.from_scenario(args.scenario, **options) if args.scenario else FakeTWS(**options)
        )
    except (ScenarioError, OSError) as error:
        return _error(f"cannot read scenario {args.scenario}: {error}")
    try:
        await tws.start()
    except OSError as error:  # port in use, address not local, no permission for a low port
        reason = os.strerror(error.errno).lower() if error.errno else str(error)
        return _error(f"cannot listen on {args.host}:{args.port}: {reason}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        for symbol, price in args.price:
            tws.set_price(symbol, price)
        print(
            f"FakeTWS listening on {tws.host}:{tws.port} "
            f"(server version {tws.server_version}, accounts {','.join(tws.accounts)})",
            flush=True,
        )
        await stop.wait()
    finally:
        await tws.stop()
    print("FakeTWS stopped", flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; exit code 0 on SIGINT/SIGTERM, 2 when it cannot start."""
    return asyncio.run(_serve(args))
