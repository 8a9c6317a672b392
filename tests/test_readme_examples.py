"""Every python block of the README runs as a user would run it, and does what its comments say.

- the executor example: a script, against ``ibkr-exec simulate --price AAPL=150`` (the command the
  README gives), configured through the environment (``IBKR_HOST``/``IBKR_PORT``) as written;
- the fixture example: a real pytest run in a subprocess, in a fresh project folder holding only
  that file (no configuration: pytest-asyncio's default strict mode);
- the value types block: the ValueError its comment shows, and mypy's complaint about the float.

``test_every_python_block_is_exercised`` fails when a block is added that no test runs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from usage import mypy_errors

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
BLOCKS: list[str] = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)

EXECUTOR = "async def main() -> None:"
FIXTURE = "async def test_my_strategy_survives_a_disconnect(fake_tws):"
VALUE_TYPES = "# ValueError:"
#: The README's "complete pytest configuration" for a user's project (its one toml block).
(PYTEST_CONFIG,) = re.findall(r"```toml\n(.*?)```", README, flags=re.DOTALL)


def _block(marker: str) -> str:
    (block,) = [b for b in BLOCKS if marker in b]
    return block


def _clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without IBKR_* (the examples must not see the developer's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IBKR_", "PYTEST_"))}
    env.update(extra)
    return env


def test_every_python_block_is_exercised() -> None:
    assert len(BLOCKS) == 3, "a README python block was added or removed: give it a test"
    for block in BLOCKS:
        assert sum(marker in block for marker in (EXECUTOR, FIXTURE, VALUE_TYPES)) == 1, block


def test_readme_links_work_on_pypi_too() -> None:
    """PyPI shows this README without the repository: a relative link or image would be dead
    there, and the project's URL is not known yet, so every link is absolute."""
    targets = re.findall(r"\]\(([^)\s]+)", README)
    assert targets, "no links at all: the pattern is broken"
    assert [t for t in targets if not t.startswith("https://")] == []


def test_the_license_the_metadata_names_is_there() -> None:
    root = Path(__file__).resolve().parent.parent
    assert 'license = "MIT"' in (root / "pyproject.toml").read_text(encoding="utf-8")
    assert (root / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")


def test_the_executor_example_runs_against_ibkr_exec_simulate(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(_block(EXECUTOR), encoding="utf-8")
    ibkr_exec = Path(sys.executable).parent / "ibkr-exec"
    # The README's command, on a free port instead of 7497 (told to the example via IBKR_PORT).
    simulator = subprocess.Popen(
        [str(ibkr_exec), "simulate", "--port", "0", "--price", "AAPL=150"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_clean_env(),
    )
    try:
        assert simulator.stdout is not None
        banner = simulator.stdout.readline()
        found = re.match(r"FakeTWS listening on ([\d.]+):(\d+) ", banner)
        assert found, banner
        host, port = found.groups()
        run = subprocess.run(
            [sys.executable, str(script)],
            env=_clean_env(IBKR_HOST=host, IBKR_PORT=port),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
        )
    finally:
        simulator.send_signal(signal.SIGINT)
        simulator.communicate(timeout=10)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    handler = [line for line in lines if line.startswith("handler: ")]
    printed = [line for line in lines if not line.startswith("handler: ")]
    # The comments: SUBMITTED (working: the limit is below the market), PENDING_CANCEL, CANCELLED.
    assert printed == ["SUBMITTED", "PENDING_CANCEL", "CANCELLED"], run.stdout
    # The text under the example: the handler hears the three states, in order.
    assert handler == [
        "handler: my-strategy-42 SUBMITTED",
        "handler: my-strategy-42 PENDING_CANCEL",
        "handler: my-strategy-42 CANCELLED",
    ], run.stdout
    assert lines[:2] == ["handler: my-strategy-42 SUBMITTED", "SUBMITTED"]


def run_fixture_example(project: Path, python: str) -> subprocess.CompletedProcess[str]:
    """Run the README's fixture example with ``python``'s pytest in a project folder holding only
    that file and the README's pytest configuration, in pytest-asyncio's strict mode (its
    default, spelled out here)."""
    project.mkdir(parents=True, exist_ok=True)
    (project / "test_strategy.py").write_text(_block(FIXTURE), encoding="utf-8")
    (project / "pyproject.toml").write_text(PYTEST_CONFIG, encoding="utf-8")
    return subprocess.run(
        [python, "-m", "pytest", "-p", "no:cacheprovider", "-o", "asyncio_mode=strict"],
        cwd=project,
        env=_clean_env(PYTHONDONTWRITEBYTECODE="1"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_fixture_example_passes_in_a_fresh_project(tmp_path: Path) -> None:
    result = run_fixture_example(tmp_path / "project", sys.executable)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b1 passed\b", result.stdout), result.stdout
    # Nothing warns, on either stream: pytest-asyncio prints its own configuration warning on
    # stderr, which the README's configuration silences.
    assert "warning" not in (result.stdout + result.stderr).lower(), result.stdout + result.stderr


def test_the_fixture_example_checks_what_it_says(tmp_path: Path) -> None:
    """Its assertions are real: with the fill kept from happening they fail."""
    project = tmp_path / "project"
    run_fixture_example(project, sys.executable)  # writes the file
    test_file = project / "test_strategy.py"
    source = test_file.read_text(encoding="utf-8")
    # The same test with the price left above the limit: nothing fills.
    test_file.write_text(source.replace('Decimal("139")', 'Decimal("141")'), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "asyncio_mode=strict"],
        cwd=project,
        env=_clean_env(PYTHONDONTWRITEBYTECODE="1"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout
    assert "assert order.status is OrderStatus.FILLED" in result.stdout


def test_the_value_types_block_raises_what_its_comment_shows() -> None:
    block = _block(VALUE_TYPES)
    comment = block[block.index(VALUE_TYPES) :]
    expected = " ".join(line.lstrip("# ").strip() for line in comment.splitlines())
    expected = expected.removeprefix("ValueError: ")
    with pytest.raises(ValueError, match=re.escape(expected)) as caught:
        exec(block, {})
    assert str(caught.value) == expected


def test_the_value_types_block_float_is_flagged_by_mypy(tmp_path: Path) -> None:
    block = _block(VALUE_TYPES)
    flagged = [
        n
        for n, line in enumerate(block.splitlines(), 1)
        if '# mypy: incompatible type "float"' in line
    ]
    errors, output = mypy_errors(tmp_path, block, "value_types.py")
    assert [int(line.split(":")[1]) for line in errors] == flagged, output
    assert 'incompatible type "float"' in errors[0]


def _run(*command: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env=_clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.slow
def test_from_the_wheel_in_a_fresh_environment(tmp_path: Path) -> None:
    """What a user gets from ``pip install ibkr-exec``: the wheel, in a new virtual environment.

    First with pytest alone (the plugin must not break an unrelated test run, and the fixture
    names what to install), then with pytest-asyncio: the README's fixture example passes.
    """
    repository = Path(__file__).resolve().parent.parent
    _run(
        sys.executable, "-m", "pip", "wheel", repository, "--no-deps", "-q", "-w", tmp_path / "dist"
    )
    (wheel,) = (tmp_path / "dist").glob("ibkr_exec-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in archive.namelist())
    _run(sys.executable, "-m", "venv", tmp_path / "venv")
    python = tmp_path / "venv" / "bin" / "python"
    _run(python, "-m", "pip", "install", "-q", wheel, "pytest")

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "test_app.py").write_text(
        "def test_unrelated():\n    assert 1 + 1 == 2\n\n\n"
        "def test_wants_the_simulator(fake_tws):\n    pass\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-rA"],
        cwd=plain,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "PASSED test_app.py::test_unrelated" in result.stdout, result.stdout
    assert "needs pytest-asyncio: pip install pytest-asyncio" in result.stdout, result.stdout

    _run(python, "-m", "pip", "install", "-q", "pytest-asyncio")
    result = run_fixture_example(tmp_path / "project", str(python))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b1 passed\b", result.stdout), result.stdout
    # It ran the installed wheel, not this checkout.
    where = _run(python, "-c", "import ibkr_exec; print(ibkr_exec.__file__)", cwd=tmp_path)
    assert where.startswith(str(tmp_path / "venv")), where
