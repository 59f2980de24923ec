"""Child processes that stop together with `samkjop`.

`samkjop` starts its long-running work (the run's worker, streamlit, the Dagster
webserver) as a child in a process group of its own, so that every process the child
starts in turn (dbt, Dagster's code server) is in that group too. On SIGINT (Ctrl-C),
SIGTERM or SIGHUP `samkjop` signals the whole group and waits for it; when the child ends
any other way, whatever is left of its group is killed as well. A run's worker also
watches its parent: if `samkjop` itself is killed (`kill -9`, out of memory), the worker
kills its own group, dbt included, within a fraction of a second. What even that misses
(both killed at once) the next run finds by the run token in the processes' environment
and stops before it starts (`stop_leftovers`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

RUN_TOKEN_ENV_VAR = "SAMKJOP_RUN_TOKEN"  # inherited by the worker and dbt: who belongs to a run
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PARENT_POLL_SECONDS = 0.2
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@dataclass(frozen=True)
class Outcome:
    """How a supervised child ended."""

    returncode: int
    stopped_by: str | None  # the signal `samkjop` received, if it stopped the child

    @property
    def killed_by(self) -> str | None:
        """The signal that ended the child when nobody here asked it to stop."""
        if self.returncode >= 0 or self.stopped_by:
            return None
        return _signal_name(-self.returncode)


def supervise(
    command: list[str],
    env: dict[str, str],
    *,
    stop_signal: signal.Signals = signal.SIGTERM,
    grace_seconds: float = 10.0,
    pass_fds: tuple[int, ...] = (),
    die_with_parent: bool = True,
    on_stop: Callable[[str], None] | None = None,
) -> Outcome:
    """Run `command` in a process group of its own until it ends. A stop signal sent to
    this process is answered by `stop_signal` to the child's whole group (SIGKILL after
    `grace_seconds`, or at a second stop signal); `on_stop` is told which signal came.
    With `die_with_parent` (Linux) the child gets SIGTERM if this process dies."""
    received: list[str] = []
    children: list[subprocess.Popen] = []

    def stop(signum, _frame) -> None:
        received.append(_signal_name(signum))
        first = len(received) == 1
        if children:
            _signal_group(children[0].pid, stop_signal if first else signal.SIGKILL)
        if first and on_stop is not None:
            on_stop(received[0])

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        child = subprocess.Popen(
            command,
            env=env,
            start_new_session=True,  # its own group: Ctrl-C reaches samkjop, which stops it
            pass_fds=pass_fds,
            preexec_fn=_die_with_parent if die_with_parent else None,
        )
        children.append(child)
        if received:  # a stop signal came while it was starting
            _signal_group(child.pid, stop_signal)
        _wait_for_exit(child, grace_seconds, received)
        _signal_group(child.pid, signal.SIGKILL)  # whatever it left running
        returncode = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return Outcome(returncode, received[0] if received else None)


def _wait_for_exit(child: subprocess.Popen, grace_seconds: float, received: list[str]) -> None:
    """Wait until the child has exited, without reaping it: its pid, and so its group's id,
    stays reserved until the group is signalled once more."""
    stop_requested_at: float | None = None
    while not _has_exited(child):
        if received and stop_requested_at is None:
            stop_requested_at = time.monotonic()
        if stop_requested_at is not None and time.monotonic() - stop_requested_at > grace_seconds:
            _signal_group(child.pid, signal.SIGKILL)
        time.sleep(0.05)


def _has_exited(child: subprocess.Popen) -> bool:
    if not hasattr(os, "waitid"):  # macOS: reaps it; its group is signalled right after
        return child.poll() is not None
    try:
        return os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None
    except ChildProcessError:
        return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _die_with_parent() -> None:
    """In a child before it starts (Linux): SIGTERM when `samkjop` dies, however it dies."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def watch_parent() -> None:
    """In a run's worker: when the `samkjop` that started it is gone, kill the worker's
    whole process group (the worker and dbt) at once."""
    parent = os.getppid()
    if os.getpgrp() != os.getpid():  # not started by supervise(): leave signals alone
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="samkjop-parent-watch", daemon=True).start()


def stop_leftovers(token: str | None, timeout: float = 15.0) -> list[int]:
    """Kill every process still carrying a dead run's token (Linux: from /proc) and wait
    until they are gone; return their pids."""
    if not token:
        return []
    marker = f"{RUN_TOKEN_ENV_VAR}={token}".encode()
    pids = [pid for pid in _process_ids() if marker in _environ(pid)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(is_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pids


def is_running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a zombie holds no file or lock)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (not Linux): it exists


def _process_ids() -> list[int]:
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    return [int(p.name) for p in proc.iterdir() if p.name.isdigit() and int(p.name) != os.getpid()]


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""
