"""Tests of the library as its users call it; helpers shared with the README's tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def mypy_errors(folder: Path, source: str, name: str = "strategy.py") -> tuple[list[str], str]:
    """Write ``source`` to ``folder/name``, type-check it as a user's strict project would, and
    return mypy's error lines with its whole output (for assertion messages)."""
    (folder / name).write_text(source, encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--cache-dir",
            str(folder / ".mypy_cache"),
            name,
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return [line for line in result.stdout.splitlines() if ": error:" in line], result.stdout
