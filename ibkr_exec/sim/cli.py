"""``ibkr-exec simulate``: run a FakeTWS until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
from decimal import Decimal, InvalidOperation
from typing import Any

from ibkr_exec.sim.server import FakeTWS

__all__ = ["add_arguments", "run"]


def _price(text: str) -> tuple[str, Decimal]:
    symbol, sep, value = text.partition("=")
    try:
        if not sep or not symbol:
            raise InvalidOperation
        return symbol, Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"expected SYMBOL=PRICE, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ibkr-exec simulate``."""
    parser.add_argument("--port", type=int, default=7497, help="port to listen on (0: any free)")
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


async def _serve(args: argparse.Namespace) -> None:
    options: dict[str, Any] = {"host": args.host, "port": args.port}
    tws = FakeTWS.from_scenario(args.scenario, **options) if args.scenario else FakeTWS(**options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with tws:
        for symbol, price in args.price:
            tws.set_price(symbol, price)
        print(
            f"FakeTWS listening on {tws.host}:{tws.port} "
            f"(server version {tws.server_version}, accounts {','.join(tws.accounts)})",
            flush=True,
        )
        await stop.wait()
    print("FakeTWS stopped", flush=True)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; exit code 0 on SIGINT/SIGTERM."""
    asyncio.run(_serve(args))
    return 0
