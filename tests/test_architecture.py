"""The rooms and doors of design.md: which module may import what, checked on the source.

Every module under ``ibkr_exec`` is parsed with ``ast``; rules are data keyed by module prefix, so
a new module is covered the moment it exists.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ibkr_exec"

# (module prefix, imports it may make inside ibkr_exec (prefixes), external modules forbidden)
RULES: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("ibkr_exec.models", ("ibkr_exec._decimal",), ("ib_async",)),
    ("ibkr_exec._decimal", (), ("ib_async",)),
    ("ibkr_exec.errors", (), ("ib_async",)),
    ("ibkr_exec.statemachines", ("ibkr_exec.models", "ibkr_exec.statemachines"), ("ib_async",)),
    (
        "ibkr_exec.actors",
        (
            "ibkr_exec.actors",
            "ibkr_exec.statemachines",
            "ibkr_exec.models",
            "ibkr_exec.errors",
            "ibkr_exec.audit",
            "ibkr_exec.broker.port",
        ),
        ("ib_async",),
    ),
]
IB_ASYNC_ALLOWED = {"ibkr_exec.broker.ib"}
SIM_FORBIDDEN = ("ib_async", "ibkr_exec.actors", "ibkr_exec.broker", "ibkr_exec.executor")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or path.is_dir()


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports (relative imports resolved), at any depth of the code."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # "from pkg import submodule" imports the submodule; "from pkg import Name", pkg.
                sub = f"{base}.{alias.name}"
                found.add(sub if is_module(sub) else base)
    return found


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def internal(imported: set[str]) -> set[str]:
    return {i for i in imported if within(i, "ibkr_exec")}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_imports_only_through_its_doors(module: str) -> None:
    imported = imports_of(MODULES[module])
    for prefix, allowed, forbidden in RULES:
        if within(module, prefix):
            wrong = {i for i in internal(imported) if not any(within(i, a) for a in allowed)}
            assert not wrong, f"{module} may not import {sorted(wrong)}"
            bad = {i for i in imported if any(within(i, f) for f in forbidden)}
            assert not bad, f"{module} may not import {sorted(bad)}"
    if module not in IB_ASYNC_ALLOWED:
        assert not {i for i in imported if within(i, "ib_async")}, (
            f"{module} imports ib_async; only broker/ib.py may"
        )
    if within(module, "ibkr_exec.sim"):
        bad = {i for i in imported if any(within(i, f) for f in SIM_FORBIDDEN)}
        assert not bad, f"{module} may not import {sorted(bad)}"


def test_the_rules_see_every_room_that_exists() -> None:
    assert "ibkr_exec.models" in MODULES
    assert "ibkr_exec.actors.runtime" in MODULES
    assert "ibkr_exec.statemachines.order" in MODULES
