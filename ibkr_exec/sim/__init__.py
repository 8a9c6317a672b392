"""A wire-level TWS API simulator: an asyncio TCP server an unmodified TWS API client (such as
ib_async) connects to, with a deterministic exchange and fault injection.

>>> from ibkr_exec.sim import FakeTWS
>>> tws = FakeTWS(accounts=["DU123"])  # then: async with tws: ...
"""

from ibkr_exec.sim.book import SimContract, SimExecution, SimOrder
from ibkr_exec.sim.exchange import SimPosition
from ibkr_exec.sim.scenario import Scenario, ScenarioError, load_scenario
from ibkr_exec.sim.server import FakeTWS

__all__ = [
    "FakeTWS",
    "Scenario",
    "ScenarioError",
    "SimContract",
    "SimExecution",
    "SimOrder",
    "SimPosition",
    "load_scenario",
]
