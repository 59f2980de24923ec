"""One `samkjop run` at a time per state folder, by an operating-system file lock.

The lock is `fcntl.flock` on `<state folder>/run.lock`. The kernel releases it when the
last process holding it ends, however it ends (`kill -9`, out of memory, power cut), so a
dead run can never block the next one. DuckDB allows one writing process; this lock is
how runs take turns. The file also says who holds it (pid, start time, run token), for
the message a second run prints and for cleaning up what a dead run left behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

LOCK_FILE = "run.lock"
POLL_SECONDS = 0.5


class RunBusy(Exception):
    """Another run holds the lock and this one will not (or no longer) wait."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) the lock."""

    pid: int | None
    started: datetime | None
    token: str | None

    def describe(self) -> str:
        if self.pid is None:
            return "another run"
        when = f", started {self.started:%Y-%m-%d %H:%M:%S}" if self.started else ""
        return f"another run (pid {self.pid}{when})"

    @staticmethod
    def parse(text: str) -> Holder:
        try:
            record = json.loads(text)
            started = datetime.fromisoformat(record["started"])
            return Holder(int(record["pid"]), started, str(record["token"]))
        except (ValueError, KeyError, TypeError):
            return Holder(None, None, None)  # empty, or written by another version


class RunLock:
    """The state folder's run lock; `acquire` returns the previous holder's record."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / LOCK_FILE
        self.token = uuid.uuid4().hex
        self.fd: int | None = None

    def acquire(self, wait_seconds: float, on_wait: Callable[[Holder], None]) -> Holder:
        """Take the lock, waiting up to `wait_seconds` (calling `on_wait` once) while
        another run holds it; raise RunBusy when it is still held after that."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + max(wait_seconds, 0)
        waiting = False
        try:
            while not _try_lock(fd):
                holder = Holder.parse(_read(fd))
                if time.monotonic() >= deadline:
                    raise RunBusy(_busy_message(holder, waited=waiting, wait_seconds=wait_seconds))
                if not waiting:
                    on_wait(holder)
                    waiting = True
                time.sleep(POLL_SECONDS)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        previous = Holder.parse(_read(fd))
        _write(fd, {"pid": os.getpid(), "started": datetime.now().isoformat(), "token": self.token})
        return previous

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the last descriptor releases the lock
            self.fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read(fd: int) -> str:
    return os.pread(fd, 4096, 0).decode("utf-8", errors="replace")


def _write(fd: int, record: dict) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode("utf-8"), 0)


def _busy_message(holder: Holder, waited: bool, wait_seconds: float) -> str:
    if waited:
        return (
            f"{holder.describe()} is still running on this cooperation after "
            f"{wait_seconds / 60:g} min; nothing was done. Try again later."
        )
    return (
        f"{holder.describe()} is running on this cooperation; nothing was done. Try again "
        "when it has finished, or give --wait MINUTES to wait for it."
    )
