"""The journal on disk: an append-only JSON Lines file, its durability policy, and its reader.

:class:`JournalFile` appends whole lines with ``os.write`` on an unbuffered descriptor, so what
:meth:`JournalFile.append` returned from is in the operating system's hands (it survives the
process being killed); ``fsync`` (see :class:`FsyncPolicy`) is what makes it survive a power cut.
Opening an existing journal repairs a torn last line first (a crash in the middle of a write): the
fragment is terminated with a newline, so the next entry starts a line of its own and the reader
skips only the fragment.

The reader bounds the length of a line: a path that reads as an endless line (``/dev/zero``,
``/dev/full``) fails with a :class:`~ibkr_exec.errors.JournalError` instead of exhausting memory.
"""

from __future__ import annotations

import enum
import json
import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ibkr_exec.errors import JournalError

__all__ = ["MAX_LINE_BYTES", "FsyncPolicy", "JournalFile", "JournalWarning", "read_journal"]

#: The longest journal line the reader accepts. The longest entry the library writes is a few KB.
MAX_LINE_BYTES = 1 << 20


class JournalWarning(UserWarning):
    """A journal line could not be read (torn by a crash, or corrupt) and was skipped."""


class FsyncPolicy(enum.Enum):
    """When the journal calls ``fsync`` (``IBKR_JOURNAL_FSYNC``).

    Every write reaches the operating system before a placement is sent and before a terminal state
    is announced, whatever the policy: a killed process loses nothing. ``fsync`` is about a crash
    of the machine (power cut, kernel panic).
    """

    NEVER = "never"  # the OS writes back when it likes (seconds)
    TERMINAL = "terminal"  # fsync when an order reaches a terminal state, and on close
    ALWAYS = "always"  # fsync after every write

    @classmethod
    def parse(cls, value: FsyncPolicy | str) -> FsyncPolicy:
        """The policy named ``value`` (case-insensitive); ValueError listing the choices."""
        if isinstance(value, FsyncPolicy):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            choices = ", ".join(p.value for p in cls)
            raise ValueError(
                f"unknown journal fsync policy {value!r}: use one of {choices}"
            ) from None


class JournalFile:
    """An open journal file, appended to with whole lines. Raises OSError on a failed write."""

    __slots__ = ("_fd", "_regular", "path", "policy")

    def __init__(self, path: Path, policy: FsyncPolicy) -> None:
        """Open ``path`` for appending (creating it), repairing a torn last line first."""
        self.path = path
        self.policy = policy
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._regular = path.is_file()  # a device (/dev/null) has no tail to repair, no fsync
        try:
            self._repair_tail()
        except OSError:
            self.close()
            raise

    def _repair_tail(self) -> None:
        assert self._fd is not None
        if not self._regular:
            return
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        with open(self.path, "rb") as f:
            f.seek(size - 1)
            last = f.read(1)
        if last != b"\n":
            warnings.warn(
                f"{self.path}: torn last journal line (interrupted write?) terminated; "
                "it stays skipped when read",
                JournalWarning,
                stacklevel=4,
            )
            self._write_all(b"\n")

    def append(self, data: bytes, *, terminal: bool = False) -> None:
        """Write ``data`` (whole lines) and fsync as the policy says for this write."""
        self._write_all(data)
        policy = self.policy
        if policy is FsyncPolicy.ALWAYS or (terminal and policy is FsyncPolicy.TERMINAL):
            self.sync()

    def _write_all(self, data: bytes) -> None:
        fd = self._fd
        if fd is None:
            raise OSError(f"journal {self.path} is closed")
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            if written <= 0:  # pragma: no cover  # os.write raises rather than return 0 on files
                raise OSError(f"journal {self.path}: write made no progress")
            view = view[written:]

    def sync(self) -> None:
        """``fsync`` the file now."""
        if self._fd is not None and self._regular:
            os.fsync(self._fd)

    def close(self) -> None:
        """Close the descriptor (fsync first unless the policy is never). Never raises."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if self.policy is not FsyncPolicy.NEVER and self._regular:
                os.fsync(fd)
        except OSError:
            pass  # the failure was reported when the write failed; closing must complete
        finally:
            os.close(fd)


def read_journal(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield the entries of a journal file.

    A torn last line (a crash in the middle of a write) is skipped with a :class:`JournalWarning`;
    so is a corrupt line in the middle, naming its line number. Reading never raises on content,
    except for a line longer than :data:`MAX_LINE_BYTES` (not a journal: JournalError).
    """
    with open(path, "rb") as f:
        yield from _parse_lines(_bounded_lines(f, str(path)), str(path))


def _bounded_lines(f: Any, where: str) -> Iterator[str]:
    number = 0
    while True:
        raw: bytes = f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise JournalError(
                f"{where}:{number}: a line longer than {MAX_LINE_BYTES} bytes: "
                "not an ibkr-exec journal (does IBKR_JOURNAL_PATH name a device or another file?)"
            )
        yield raw.decode("utf-8", errors="replace")


def parse_lines(lines: Iterable[str], where: str) -> Iterator[dict[str, Any]]:
    """Entries of ``lines`` (JSON objects), skipping torn or corrupt ones with a warning."""
    return _parse_lines(lines, where)


def _parse_lines(lines: Iterable[str], where: str) -> Iterator[dict[str, Any]]:
    bad: tuple[int, str] | None = None
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        if bad is not None:
            warnings.warn(
                f"{where}:{bad[0]}: corrupt journal line skipped: {bad[1][:80]!r}",
                JournalWarning,
                stacklevel=3,
            )
            bad = None
        try:
            entry = json.loads(text)
        except ValueError:
            bad = (number, text)
            continue
        if isinstance(entry, dict):
            yield entry
        else:
            bad = (number, text)
    if bad is not None:
        warnings.warn(
            f"{where}:{bad[0]}: torn last journal line ignored (interrupted write?): "
            f"{bad[1][:80]!r}",
            JournalWarning,
            stacklevel=3,
        )
