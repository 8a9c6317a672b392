"""Run every benchmark in turn: ``python -m bench`` (options go to none of them; use each one's
own command for options). Each appends its figures to bench/RESULTS.md."""

from __future__ import annotations

import sys

from bench import e2e, memory, reconnect, scale, tick_to_wire, transition


def main() -> int:
    """Run them all, printing a heading before each."""
    extra = ["--no-record"] if "--no-record" in sys.argv[1:] else []
    for module in (e2e, transition, memory, scale, reconnect, tick_to_wire):
        print(f"\n== {module.__name__} ==", flush=True)
        module.main(extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
