"""Per transition: mailbox + shared machine + journal entry versus a bare ``transitions`` trigger.

Run: ``python -m bench.transition``. Budget (design.md): <= 1.5x.

Both sides run the same table (``ORDER_TRANSITIONS``) and the same pair of edges, SUBMITTED ->
PENDING_CANCEL (``cancel_pending``, a ``before`` callback) and back (``cancel_refused``, a
condition and an ``after`` callback). Bare: a ``transitions.Machine`` on one model, triggers called
in a loop. Actor: the same reports told to an OrderActor (the ledger builds the transition, the
journal writes each one to a real file), timed until the actor answers an ask sent after them.
"Burst" tells one actor every message at once (one drain per 100 messages); "1 msg/actor" tells
1,000 actors one message each per loop turn, so every transition also pays a drain scheduling.
The three alternate in ``--repeat`` rounds; each ratio is the median of the rounds' ratios.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transitions import Machine

from bench._actors import BareModel, NullBroker, make_order
from bench._common import base_arguments, median, record, results_path
from ibkr_exec.actors import GetOrder, OrderActor
from ibkr_exec.audit import AuditLogger
from ibkr_exec.broker.port import CancelPending, CancelRefused, OrderAccepted
from ibkr_exec.statemachines import ORDER_STATES, ORDER_TRANSITIONS


def bare_per_trigger(n: int) -> float:
    """Seconds per trigger of a plain ``transitions.Machine``."""
    model = BareModel()
    Machine(
        model=model,
        states=list(ORDER_STATES),
        transitions=ORDER_TRANSITIONS,
        initial="SUBMITTED",
        auto_transitions=False,
    )
    fire: Any = model
    start = time.perf_counter()
    for _ in range(n // 2):
        fire.cancel_pending()
        fire.cancel_refused()
    return (time.perf_counter() - start) / n


async def actor_burst(n: int, journal: AuditLogger) -> float:
    """Seconds per transition, every message told to one actor at once."""
    actor = OrderActor.create(make_order(0), broker=NullBroker(), journal=journal).start()
    await actor.ask(OrderAccepted("0"))
    pending, refused = CancelPending("0"), CancelRefused("0", 10147, "refused")
    start = time.perf_counter()
    for _ in range(n // 2):
        actor.tell(pending)
        actor.tell(refused)
    await actor.ask(GetOrder(), timeout=None)
    journal.flush()
    elapsed = (time.perf_counter() - start) / n
    await actor.stop()
    return elapsed


async def actor_spread(n: int, journal: AuditLogger, actors_count: int = 1000) -> float:
    """Seconds per transition, one message per actor per loop turn."""
    broker = NullBroker()
    actors = [
        OrderActor.create(make_order(i), broker=broker, journal=journal).start()
        for i in range(actors_count)
    ]
    for a in actors:
        a.tell(OrderAccepted(a.client_order_id))
    await asyncio.gather(*(a.ask(GetOrder(), timeout=None) for a in actors))
    pending, refused = CancelPending("x"), CancelRefused("x", 10147, "refused")
    rounds = max(1, n // (2 * actors_count))
    start = time.perf_counter()
    for _ in range(rounds):
        for a in actors:
            a.tell(pending)
        await asyncio.sleep(0)
        for a in actors:
            a.tell(refused)
        await asyncio.sleep(0)
    await asyncio.gather(*(a.ask(GetOrder(), timeout=None) for a in actors))
    journal.flush()
    elapsed = (time.perf_counter() - start) / (rounds * 2 * actors_count)
    for a in actors:
        await a.stop()
    return elapsed


async def measure(n: int, repeat: int) -> list[str]:
    """The figures, as printed lines: bare and actor runs alternated in ``repeat`` rounds, the
    ratio per round (so drift on a shared machine lands on both), medians and spread."""
    bares: list[float] = []
    bursts: list[float] = []
    spreads: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        journal = AuditLogger(Path(tmp) / "journal.jsonl")
        for _ in range(repeat):
            bares.append(bare_per_trigger(n))
            bursts.append(await actor_burst(n, journal))
            spreads.append(await actor_spread(n, journal))
        journal.close()
    burst_ratios = [b / a for a, b in zip(bares, bursts, strict=True)]
    spread_ratios = [b / a for a, b in zip(bares, spreads, strict=True)]

    def rounds(values: list[float]) -> str:
        return f"(rounds: {', '.join(f'{v:.2f}' for v in values)})"

    return [
        f"transitions per run: {n}, {repeat} alternated rounds, medians; journal to a file",
        f"bare transitions trigger        {median(bares) * 1e6:7.2f} us",
        f"actor transition (burst)        {median(bursts) * 1e6:7.2f} us  ratio "
        f"{median(burst_ratios):.2f}x {rounds(burst_ratios)}   (budget <= 1.5x)",
        f"actor transition (1 msg/actor)  {median(spreads) * 1e6:7.2f} us  ratio "
        f"{median(spread_ratios):.2f}x {rounds(spread_ratios)}",
    ]


def main(argv: Sequence[str] | None = None) -> list[str]:
    """Run the benchmark; returns the printed lines."""
    parser = base_arguments("per-transition cost versus a bare transitions trigger")
    parser.add_argument("--n", type=int, default=100_000, help="transitions per run")
    parser.add_argument("--repeat", type=int, default=3, help="alternated rounds")
    args = parser.parse_args(argv)
    lines = asyncio.run(measure(args.n, args.repeat))
    record("Per transition: actor vs bare transitions", lines, path=results_path(args))
    return lines


if __name__ == "__main__":
    main()
