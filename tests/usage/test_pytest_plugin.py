"""The pytest plugin installed with ibkr-exec never breaks a pytest run (issue 11 items 2, 3)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Makes `import pytest_asyncio` fail, as in an environment where it is not installed. pytest's
# assertion-rewriting finder would still find the installed package (it marks every installed
# plugin's modules for rewriting), so these runs use --assert=plain. tests/test_wheel_install.py
# does the same in a real virtual environment without pytest-asyncio.
BLOCKER = """\
import sys


class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name == "pytest_asyncio" or name.startswith("pytest_asyncio."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
"""

TESTS = """\
def test_unrelated():
    assert 1 + 1 == 2


def test_wants_the_simulator(fake_tws):
    pass
"""


def _pytest(project: Path, *args: str, pythonpath: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return f"exit {result.returncode}\n{result.stdout}{result.stderr}"


def test_without_pytest_asyncio_the_plugin_loads_and_names_what_to_install(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_app.py").write_text(TESTS, encoding="utf-8")
    # -p no:asyncio: pytest-asyncio's own entry point stays out, as if it were not installed;
    # ibkr-exec's entry point (ibkr_exec_sim) loads as usual.
    output = _pytest(project, "-p", "no:asyncio", "--assert=plain", pythonpath=blocker)
    assert output.startswith("exit 1\n"), output
    assert "PASSED test_app.py::test_unrelated" in output, output
    assert "ERROR test_app.py::test_wants_the_simulator" in output, output
    assert "needs pytest-asyncio: pip install pytest-asyncio" in output, output
    assert "Error importing plugin" not in output, output
    assert "ModuleNotFoundError" not in output, output  # said plainly, without a traceback


def test_the_blocker_really_hides_pytest_asyncio(tmp_path: Path) -> None:
    """The test above proves something only if pytest_asyncio cannot be imported there."""
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", "import pytest_asyncio"],
        env={**os.environ, "PYTHONPATH": str(blocker)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "No module named 'pytest_asyncio'" in result.stderr


def test_with_pytest_asyncio_in_strict_mode_the_fixture_works(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_app.py").write_text(
        "import pytest\n\n\n"
        "@pytest.mark.asyncio\n"
        "async def test_simulator_is_up(fake_tws):\n"
        "    assert fake_tws.port > 0\n",
        encoding="utf-8",
    )
    output = _pytest(project, "-o", "asyncio_mode=strict")
    assert output.startswith("exit 0\n"), output
    assert "PASSED test_app.py::test_simulator_is_up" in output, output
