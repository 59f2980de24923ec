"""`samkjop serve`: the control room of one cooperation, as one supervised process group.

`samkjop serve` starts the Dagster daemon (sensors, automation, the run queue: deliveries
are picked up, built and published on their own, pipelines/defs/automation.py), the
Dagster webserver (the UI) and the Streamlit dashboards. `samkjop ui` is the same without
the dashboards.

How the processes hang together (pipelines/processes.py): `samkjop` checks that the
ports are free, takes the cooperation's serve lock (`<state folder>/serve.lock`: one
control room per cooperation, released by the kernel however it ends), and supervises one
child, `python -m pipelines.serve`, the leader of a process group of its own. That leader
starts the three servers in its group; everything they start (code servers, the run
workers of the daemon's runs, dbt) stays in it. Ctrl-C, SIGTERM or SIGHUP to `samkjop`
reach the whole group; the leader waits for the servers, then kills whatever is left of
its group, and `samkjop` kills the group once more when the leader is gone. A server that
stops by itself stops the others too (exit code 1). If `samkjop` itself is killed, the
leader gets SIGTERM from the kernel (PR_SET_PDEATHSIG) and does the same.

Runs the daemon had started and that a stop interrupted are marked failed, and their pool
slots freed, when `serve` stops and again when it starts (`release_dead_runs`), so that
they never hold up `samkjop run`.

Every server's own output goes to `<state folder>/logs/serve/<name>.log`; the processes
run in the state folder, so nothing is written into the source tree.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipelines.dagster_runs import SERVE_LOCK
from pipelines.settings import CONFIG_ENV_VAR, PROJECT_ROOT, Cooperation, load_config

SNAPSHOT_ENV_VAR = "SAMKJOP_SNAPSHOT"  # read by the dashboards
GRACE_SECONDS = 10.0  # for the servers to stop after SIGTERM, then SIGKILL
READY_TIMEOUT = 300.0
POLL_SECONDS = 0.2
LOG_TAIL_LINES = 5


class ServeError(Exception):
    """A problem told in one line (a port in use, another control room running)."""


@dataclass(frozen=True)
class Server:
    name: str  # its log file's name
    label: str  # what the user reads
    command: tuple[str, ...]
    port: int | None = None

    def address(self, host: str) -> str | None:
        if self.port is None:
            return None
        shown = "localhost" if host in ("127.0.0.1", "::1", "localhost") else host
        if shown in ("0.0.0.0", "::"):
            shown = socket.gethostname()
        return f"http://{shown}:{self.port}"


def servers(
    cooperation: Cooperation, ui_port: int, dashboards_port: int | None, host: str
) -> list[Server]:
    python = sys.executable
    result = [
        Server(
            "daemon",
            "Dagster daemon",
            (python, "-m", "dagster._daemon", "run", "-m", "pipelines.definitions"),
        ),
        Server(
            "ui",
            "Dagster UI",
            (
                python,
                "-m",
                "dagster_webserver",
                "-m",
                "pipelines.definitions",
                "-h",
                host,
                "-p",
                str(ui_port),
            ),
            ui_port,
        ),
    ]
    if dashboards_port is not None:
        app = PROJECT_ROOT / "dashboards" / "streamlit_app.py"
        result.append(
            Server(
                "dashboards",
                "dashboards",
                (
                    python,
                    "-m",
                    "streamlit",
                    "run",
                    str(app),
                    "--server.address",
                    host,
                    "--server.port",
                    str(dashboards_port),
                    "--server.headless",
                    "true",
                    "--browser.gatherUsageStats",
                    "false",
                    "--client.toolbarMode",  # readers get no "Deploy" button
                    "viewer",
                ),
                dashboards_port,
            )
        )
    return result


def log_folder(cooperation: Cooperation) -> Path:
    return cooperation.state_dir / "logs" / "serve"


def port_problem(host: str, port: int, what: str, option: str) -> str | None:
    """Why the server cannot listen on host:port, in one line (None: it can)."""
    if not 0 < port < 65536:
        return f"{option} {port} is not a port number (1-65535)"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        probe.bind((host, port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return (
                f"port {port} on {host} ({what}) is in use by another program; "
                f"stop it or choose another port with {option}"
            )
        if error.errno == errno.EACCES:
            return f"port {port} on {host} ({what}) may not be used by this user ({option})"
        return f"cannot listen on {host}:{port} ({what}): {error.strerror or error}"
    finally:
        probe.close()
    return None


class ServeLock:
    """`<state folder>/serve.lock`: one control room per cooperation."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / SERVE_LOCK
        self.fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", errors="replace").strip()
            os.close(fd)
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise ServeError(
                f"samkjop serve or samkjop ui{who} is already serving this cooperation "
                f"({self.path.parent}); stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def serve(
    cooperation: Cooperation,
    ui_port: int,
    dashboards_port: int | None,
    host: str,
    say: Callable[[str], None],
) -> int:
    """Serve until stopped (exit code 0) or until a server stops by itself (1). Raises
    ServeError, before anything is started, for a port in use or a control room running."""
    from pipelines.processes import supervise

    chosen = [(ui_port, "the Dagster UI", "--ui-port" if dashboards_port else "--port")]
    if dashboards_port is not None:
        chosen.append((dashboards_port, "the dashboards", "--dashboards-port"))
        if dashboards_port == ui_port:
            raise ServeError(f"--ui-port and --dashboards-port are both {ui_port}")
    for port, what, option in chosen:
        problem = port_problem(host, port, what, option)
        if problem:
            raise ServeError(problem)
    lock = ServeLock(cooperation.state_dir)
    lock.acquire()
    try:
        env = _environment(cooperation)
        released = _release_dead_runs(cooperation, "samkjop serve stopped before this run ended")
        if released:
            say(f"Marked {released} run(s) failed that a stopped control room had left running.")
        _announce(cooperation, servers(cooperation, ui_port, dashboards_port, host), host, say)
        leader = [sys.executable, "-m", "pipelines.serve", "--config", str(cooperation.config_path)]
        leader += ["--ui-port", str(ui_port), "--host", host]
        if dashboards_port is not None:
            leader += ["--dashboards-port", str(dashboards_port)]
        outcome = supervise(
            leader,
            env,
            grace_seconds=GRACE_SECONDS + 5,  # the leader's own grace, and a little more
            pass_fds=(lock.fd,),  # the lock lasts as long as the process group does
            on_stop=lambda name: say(f"\n{name} received: stopping the control room…"),
        )
        released = _release_dead_runs(cooperation, "samkjop serve stopped before this run ended")
        if released:
            say(f"Marked {released} interrupted run(s) failed (re-execute them in the UI).")
    finally:
        lock.release()
    if outcome.stopped_by:
        say(
            "Stopped: the daemon, the UI and the dashboards."
            if dashboards_port
            else "Stopped: the daemon and the UI."
        )
        return 0
    return 1 if outcome.returncode != 0 else 0


def _environment(cooperation: Cooperation) -> dict[str, str]:
    from pipelines.dagster_runs import open_instance

    with _quiet(cooperation):
        open_instance(cooperation)  # writes dagster.yaml, sets DAGSTER_HOME
    env = dict(os.environ)
    env[CONFIG_ENV_VAR] = str(cooperation.config_path)
    env[SNAPSHOT_ENV_VAR] = str(cooperation.snapshot)
    env["SAMKJOP_LANGUAGE"] = cooperation.language  # the dashboards' default language
    env["DAGSTER_HOME"] = str(cooperation.dagster_home)
    return env


@contextlib.contextmanager
def _quiet(cooperation: Cooperation):
    """Dagster's own warnings go to the control room's log, not to the terminal."""
    folder = log_folder(cooperation)
    folder.mkdir(parents=True, exist_ok=True)
    with (
        open(folder / "samkjop.log", "a", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        yield


def _release_dead_runs(cooperation: Cooperation, reason: str) -> int:
    """Runs the daemon or the UI launched that are unfinished while no control room is
    serving (this one holds the serve lock and has not started, or has stopped, its
    servers): their workers are gone."""
    from pipelines.dagster_runs import open_instance, release_dead_runs

    try:
        with _quiet(cooperation):
            instance = open_instance(cooperation)
            return release_dead_runs(
                instance, None, reason, executed_here=False, launched_elsewhere=True
            )
    except Exception:  # the next start, or the next samkjop run, tries again
        return 0


def _announce(cooperation: Cooperation, started: list[Server], host: str, say) -> None:
    say(f"Samkjøp control room: {cooperation.name} ({cooperation.config_path})")
    for server in started:
        address = server.address(host)
        if address:
            say(f"  {server.label + ':':<16}{address}")
    say(
        "  Dagster daemon: picks up new deliveries, builds and publishes once per batch, "
        "checks each member's delivery freshness"
    )
    say(f"  logs:           {log_folder(cooperation)}")
    if not cooperation.snapshot.is_file():
        say(
            "Nothing is published yet: run `samkjop run --config "
            f"{cooperation.config_path}` once; from then on new deliveries are loaded, "
            "built and published on their own."
        )
    say("Starting… (Ctrl-C to stop)")


# --- the process group's leader (`python -m pipelines.serve`) ----------------------------


def lead(cooperation: Cooperation, started: list[Server], host: str) -> int:
    """Start the servers in this process's group, say when each answers, and stop them all
    when one stops or a stop signal comes."""
    from pipelines.processes import STOP_SIGNALS, _die_with_parent

    parent = os.getppid()
    stopping: list[str] = []

    def stop(signum, _frame) -> None:
        stopping.append(signal.Signals(signum).name)

    for sig in STOP_SIGNALS:
        signal.signal(sig, stop)
    folder = log_folder(cooperation)
    folder.mkdir(parents=True, exist_ok=True)
    running: list[tuple[Server, subprocess.Popen, Path]] = []
    for server in started:
        log_path = folder / f"{server.name}.log"
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"\n--- samkjop serve, {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n")
            log.flush()
            process = subprocess.Popen(
                list(server.command),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cooperation.state_dir,  # nothing is written into the source tree
                preexec_fn=_die_with_parent,  # SIGTERM if this leader dies
            )
        running.append((server, process, log_path))
    exit_code = _watch(running, host, stopping)
    # `samkjop` signalled the whole group already, unless it is gone or a server stopped
    group_signalled = bool(stopping) and os.getppid() == parent
    _stop_group(running, signal_group=not group_signalled)
    return exit_code


def _watch(running, host: str, stopping: list[str]) -> int:
    waiting = {server.name for server, _, _ in running if server.port is not None}
    deadline = time.monotonic() + READY_TIMEOUT
    while not stopping:
        for server, process, log_path in running:
            code = process.poll()
            if code is not None:
                _tell(
                    f"samkjop serve: the {server.label} stopped (exit code {code}); stopping "
                    f"the others. Its log ({log_path}) ends:\n{_tail(log_path)}"
                )
                return 1
            if server.name in waiting and _answers(host, server.port):
                waiting.discard(server.name)
                _tell(f"  {server.label} is ready: {server.address(host)}")
        if waiting and time.monotonic() > deadline:
            names = ", ".join(sorted(waiting))
            _tell(f"samkjop serve: still no answer from {names} after {READY_TIMEOUT:.0f} s")
            deadline = float("inf")
        time.sleep(POLL_SECONDS)
    return 0


def _stop_group(running, signal_group: bool) -> None:
    """SIGTERM to every process of the group (servers, code servers, run workers, dbt)
    unless it had it already, a grace period for the servers to stop, then SIGKILL to
    whatever is left of the group but this leader."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if signal_group:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(0, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline and any(p.poll() is None for _, p, _ in running):
        time.sleep(POLL_SECONDS)
    _kill_rest_of_group()
    for _, process, _ in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=1)


def _kill_rest_of_group() -> None:
    from pipelines.processes import _process_ids

    group = os.getpgrp()
    for pid in _process_ids():
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == group:
                os.kill(pid, signal.SIGKILL)


def _answers(host: str, port: int) -> bool:
    target = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    with contextlib.suppress(OSError), socket.create_connection((target, port), timeout=0.5):
        return True
    return False


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "  (no log)"
    return "\n".join(f"  {line}" for line in lines[-LOG_TAIL_LINES:]) or "  (empty)"


def _tell(message: str) -> None:
    with contextlib.suppress(BrokenPipeError, OSError):
        print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.serve")
    parser.add_argument("--config", required=True)
    parser.add_argument("--ui-port", type=int, required=True)
    parser.add_argument("--dashboards-port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    cooperation = load_config(args.config)
    started = servers(cooperation, args.ui_port, args.dashboards_port, args.host)
    return lead(cooperation, started, args.host)


if __name__ == "__main__":
    sys.exit(main())
