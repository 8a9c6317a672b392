"""The fault matrix: every lifecycle path under every broker fault, against FakeTWS.

For each combination the final Order matches the simulator's truth (status, filled quantity,
average price), no fill is lost or counted twice, the journal replays into the live Order, and
no order id is reused (a probe order is placed after every fault).
"""

from __future__ import annotations

import pytest

from .scenarios import FAULTS, PATHS, run_path


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("path", list(PATHS))
async def test_lifecycle_path_survives_fault(path: str, fault: str) -> None:
    drive, expected = PATHS[path]
    violations = await run_path(drive, FAULTS[fault](), expected)
    assert violations == []
