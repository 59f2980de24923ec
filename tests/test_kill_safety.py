"""Kill-safe runs, with real processes: `samkjop run` killed (`kill -9`) in ingestion, while
dbt builds and while it publishes, then run again, ends with exactly a clean run's
numbers; the published snapshot is never half-written; a second run waits or refuses
clearly; SIGTERM and Ctrl-C stop the run and every process it started, without a
traceback; a crashed ingestion publishes nothing.

The phases are reached by the pause points of pipelines/pause_points.py (inert unless
SAMKJOP_TEST_PAUSE_AT is set) and, for dbt, by watching for the `dbt` child process.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.pause_points import PAUSE_ENV_VAR, PAUSED
from tests.conftest import write_innherred
from tests.test_cli_end_to_end import _check_against_oracle

SAMKJOP = str(Path(sys.executable).parent / "samkjop")
RUN_TIMEOUT = 600  # seconds; a run of this small cooperation takes well under a minute
PHASE_TIMEOUT = 300
PUBLISHED_TABLES = {"municipality_kpis", "delivery_reconciliation", "snapshot_info"}


# --- processes ---------------------------------------------------------------------------


class Run:
    """A `samkjop run` started in the background, its output collected as it comes."""

    def __init__(self, config: Path, *args: str, pause: str | None = None, session=False):
        env = {k: v for k, v in os.environ.items() if k != PAUSE_ENV_VAR}
        if pause:
            env[PAUSE_ENV_VAR] = pause
        self.process = subprocess.Popen(
            [SAMKJOP, "run", "--config", str(config), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=session,  # its own group, as a terminal's foreground job
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._drain, args=(stream, lines), daemon=True)
            for stream, lines in (
                (self.process.stdout, self.stdout),
                (self.process.stderr, self.stderr),
            )
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _drain(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)

    def wait_for(self, condition, what: str, timeout: float = PHASE_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"ended before {what}:\n{self.output}"
            assert time.monotonic() < deadline, f"no {what} after {timeout} s:\n{self.output}"
            time.sleep(0.1)

    def wait_paused(self, phase: str) -> None:
        self.wait_for(lambda: f"{PAUSED} {phase}" in "".join(self.stderr), f"pause at {phase}")

    def finish(self, timeout: float = RUN_TIMEOUT) -> int:
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        return code


def _processes() -> dict[int, tuple[int, str]]:
    """Every live process: pid -> (parent pid, state)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            table[int(entry.name)] = (int(fields[1]), fields[0])
    return table


def descendants(pid: int) -> set[int]:
    table = _processes()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, (parent, _) in table.items() if parent in frontier}
        found |= frontier
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pids: set[int]) -> set[int]:
    """The pids still running (a zombie has ended: it holds no file and no lock)."""
    table = _processes()
    return {pid for pid in pids if pid in table and table[pid][1] != "Z"}


def wait_gone(pids: set[int], timeout: float = 10.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive(pids)


def kill(run: Run) -> None:
    """`kill -9` samkjop; every process it started must be gone soon after."""
    family = descendants(run.pid)
    os.kill(run.pid, signal.SIGKILL)
    run.finish()
    assert not wait_gone(family), f"left running: {[cmdline(pid) for pid in alive(family)]}"


def dbt_child(run: Run, command: str) -> int | None:
    """The run's `dbt <command>` process, if it has one now."""
    for pid in descendants(run.pid):
        line = cmdline(pid)
        if "/dbt " in line and f" {command} " in line:
            return pid
    return None


def wait_until_dbt_builds(run: Run, config: Path) -> int:
    """Wait until the run's `dbt build` has finished at least one model; return its pid."""
    log = config.parent / "warehouse" / "dbt_target" / "build" / "dbt.log"
    offset = log.stat().st_size if log.exists() else 0
    run.wait_for(lambda: dbt_child(run, "build"), "dbt build process")

    def a_model_is_built() -> bool:
        if not log.exists():
            return False
        with open(log, "rb") as handle:
            handle.seek(offset)
            return b'"name": "LogModelResult"' in handle.read()

    run.wait_for(a_model_is_built, "a model built by dbt")
    return dbt_child(run, "build")


# --- the warehouse and the snapshot ------------------------------------------------------


def numbers(config: Path) -> dict[str, list[tuple]]:
    """What a run published, without what only says where or when."""
    snapshot = config.parent / "warehouse" / "samkjop.snapshot.duckdb"
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        return {
            "municipality_kpis": con.execute(
                "SELECT * FROM marts.municipality_kpis ORDER BY ALL"
            ).fetchall(),
            "deliveries": con.execute(
                "SELECT municipality_id, status, rows_read, rows_loaded, rows_rejected "
                "FROM marts.delivery_reconciliation ORDER BY ALL"
            ).fetchall(),
        }
    finally:
        con.close()


class SnapshotWatch:
    """Opens the published snapshot read-only again and again while it runs: it must be
    absent or a complete snapshot every time."""

    def __init__(self, snapshot: Path):
        self.snapshot = snapshot
        self.problems: list[str] = []
        self.reads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> SnapshotWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            if not self.snapshot.exists():
                continue
            try:
                con = duckdb.connect(str(self.snapshot), read_only=True)
                try:
                    tables = {
                        t
                        for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
                    }
                finally:
                    con.close()
            except duckdb.Error as error:
                self.problems.append(f"cannot open: {error}")
                continue
            self.reads += 1
            if not PUBLISHED_TABLES.issubset(tables):
                self.problems.append(f"incomplete: {sorted(tables)}")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def building_files(config: Path) -> list[Path]:
    return sorted((config.parent / "warehouse").glob(".samkjop.snapshot.duckdb.building-*"))


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def start_run():
    """Starts `samkjop run`s; whatever is still running when the test ends is killed, so
    that a failing test leaves no paused run behind."""
    runs: list[Run] = []

    def start(config: Path, *args: str, pause: str | None = None, session=False) -> Run:
        runs.append(Run(config, *args, pause=pause, session=session))
        return runs[-1]

    yield start
    for run in runs:
        family = descendants(run.pid)
        if run.process.poll() is None:
            run.process.kill()
        run.process.wait()
        for pid in alive(family):
            os.kill(pid, signal.SIGKILL)


def seed_snapshot(config: Path) -> Path:
    """An earlier published snapshot in place, as a cooperation has after its first run
    (its content does not matter: a killed run must leave its bytes as they are)."""
    snapshot = config.parent / "warehouse" / "samkjop.snapshot.duckdb"
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(snapshot))
    try:
        con.execute("CREATE SCHEMA marts")
        for table in sorted(PUBLISHED_TABLES):
            con.execute(f"CREATE TABLE marts.{table} AS SELECT 'an earlier run' AS note")
    finally:
        con.close()
    return snapshot


# --- tests -------------------------------------------------------------------------------


@pytest.mark.system  # `make test-system` (three killed runs, a refused and a waiting one)
def test_killed_in_ingestion_in_dbt_and_in_publish_the_next_run_finishes_clean(tmp_path, start_run):
    """One cooperation, killed (`kill -9`) in each phase in turn: each next run gets past the
    point where the killed one stopped (where a kept pool slot or lock would have made it
    hang or fail), and the last one finishes with exactly a clean run's numbers (those of
    the independent implementation, tests/oracle.py, as the end-to-end tests check). Along
    the way a second run refuses (--wait 0) or waits for the one that is running, and the
    published snapshot is complete or unchanged whenever it is read."""
    config = write_innherred(tmp_path)
    snapshot = seed_snapshot(config)
    before = digest(snapshot)
    with SnapshotWatch(snapshot) as watch:
        in_ingestion = start_run(config, pause="ingest")
        in_ingestion.wait_paused("ingest")
        refused = subprocess.run(
            [SAMKJOP, "run", "--config", str(config), "--wait", "0"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert f"another run (pid {in_ingestion.pid}, started " in refused.stderr
        assert "nothing was done" in refused.stderr
        assert "Traceback" not in refused.stdout + refused.stderr

        in_dbt = start_run(config)  # waits for the run in ingestion, then goes on to dbt
        in_dbt.wait_for(lambda: "waiting up to 60 min" in "".join(in_dbt.stdout), "waiting")
        assert f"another run (pid {in_ingestion.pid}, started " in "".join(in_dbt.stdout)
        kill(in_ingestion)

        dbt = wait_until_dbt_builds(in_dbt, config)
        kill(in_dbt)
        assert not wait_gone({dbt}), "dbt kept running after samkjop was killed"
        assert digest(snapshot) == before

        in_publish = start_run(config, pause="publish")
        in_publish.wait_paused("publish")
        assert building_files(config)  # the new snapshot, half-built beside it
        kill(in_publish)
        assert digest(snapshot) == before

        last = start_run(config)
        assert last.finish() == 0, last.output
    assert "Traceback" not in last.output
    assert building_files(config) == []  # the killed run's half-built snapshot is removed
    assert unfinished_runs(config) == []  # the killed runs are marked failed
    assert watch.problems == [] and watch.reads > 0
    _check_against_oracle(config)  # every figure as a clean run computes it
    deliveries = numbers(config)["deliveries"]
    assert deliveries == [("5037", "loaded", 13, 13, 0)]  # loaded once, nothing twice


STOPS = {  # how the run is stopped -> what samkjop says
    "SIGTERM": "the run was stopped (SIGTERM); nothing new was published",
    "Ctrl-C": "the run was stopped (SIGINT); nothing new was published",
    "worker killed": "the run was killed (SIGKILL — perhaps for lack of memory); nothing new",
}


@pytest.mark.parametrize("stop", list(STOPS))
def test_a_stopped_run_leaves_no_process_and_no_traceback(tmp_path, stop, start_run):
    """Stopped while its worker's child `dbt parse` reads the (fresh) cooperation's project:
    by SIGTERM, by Ctrl-C, or by the kernel killing the worker (as for lack of memory)."""
    config = write_innherred(tmp_path)
    run = start_run(config, session=True)
    run.wait_for(lambda: dbt_child(run, "parse"), "dbt parse process")
    family = descendants(run.pid)
    assert len(family) >= 2  # the worker and dbt

    if stop == "SIGTERM":
        run.process.send_signal(signal.SIGTERM)
    elif stop == "Ctrl-C":  # a terminal sends SIGINT to its foreground job's process group
        os.killpg(run.pid, signal.SIGINT)
    else:
        (worker,) = (pid for pid in family if "run-worker" in cmdline(pid))
        os.kill(worker, signal.SIGKILL)

    assert run.finish(timeout=60) == 1, run.output
    assert not wait_gone(family, timeout=5), "a child of samkjop is still running"
    assert "Traceback" not in run.output
    assert STOPS[stop] in "".join(run.stderr)
    target = config.parent / "warehouse" / "dbt_target"
    assert not (target / "parsed_with.json").exists()  # the cut parse counts as not done
    assert unfinished_runs(config) == []


def unfinished_runs(config: Path) -> list[str]:
    """The runs of the cooperation's Dagster instance that are recorded as not finished."""
    import dagster as dg

    home = config.parent / "warehouse" / "dagster_home"
    if not home.exists():
        return []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return [r.run_id for r in instance.get_runs() if not r.is_finished]


def test_a_crash_in_ingestion_publishes_nothing(tmp_path):
    """Exit 1 publishes nothing new: a member's ingestion run that fails (here: a damaged
    warehouse, whose delivery record is a view) stops the run before the build."""
    config = write_innherred(tmp_path)
    warehouse = config.parent / "warehouse" / "samkjop.duckdb"
    warehouse.parent.mkdir(parents=True)
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE SCHEMA raw")
    con.execute("CREATE VIEW raw.deliveries AS SELECT 1 AS delivery_id")
    con.close()
    snapshot = warehouse.with_name("samkjop.snapshot.duckdb")
    con = duckdb.connect(str(snapshot))  # what an earlier run published
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.snapshot_info AS SELECT now() AS published_at")
    con.close()
    before = digest(snapshot)

    result = subprocess.run(
        [SAMKJOP, "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "5037 Levanger" in result.stdout and "FAILED" in result.stdout
    assert "loading the deliveries failed: " in result.stdout
    assert "loading the deliveries of 5037 Levanger failed" in result.stderr
    assert "Nothing was built or published" in result.stderr
    assert "Building" not in result.stdout
    assert digest(snapshot) == before


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_sigterm_stops_the_dashboards_server_too(tmp_path):
    config = write_innherred(tmp_path)
    server = subprocess.Popen(
        [SAMKJOP, "dashboards", "--config", str(config), "--port", str(_free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not any("streamlit" in cmdline(pid) for pid in descendants(server.pid)):
            assert server.poll() is None and time.monotonic() < deadline, server.stdout.read()
            time.sleep(0.1)
        family = descendants(server.pid)

        server.send_signal(signal.SIGTERM)

        output, _ = server.communicate(timeout=30)
    finally:
        server.kill()
    assert server.returncode == 0, output
    assert not wait_gone(family, timeout=5), "streamlit is still running"
    assert "Traceback" not in output


def test_a_failed_dbt_build_is_told_in_one_line():
    """What dagster-dbt raises when a model fails (its message as dagster-dbt writes it)."""
    from dagster._utils.error import SerializableErrorInfo

    from pipelines.failures import error_line

    dbt_message = (
        "The dbt CLI process with command\n\n`dbt build`\n\nfailed with exit code `1`.\n\n"
        "Errors parsed from dbt logs:\n\n"
        "210 of 271 \x1b[31mERROR\x1b[0m creating sql table model marts.delivery_reconciliation "
        "........ [\x1b[31mERROR\x1b[0m in 0.06s]\n\n"
        "\x1b[31mFailure in model delivery_reconciliation (models/marts/delivery.sql)\x1b[0m\n\n"
        "  Compilation Error in model delivery_reconciliation (models/marts/delivery.sql)\n"
        "  This model has an enforced contract that failed.\n"
        "  > called by model delivery_reconciliation (models/marts/delivery.sql)\n"
    )
    cause = SerializableErrorInfo(dbt_message, [], "DagsterDbtCliRuntimeError")
    step = SerializableErrorInfo('Error occurred while executing op "x":', [], "E", cause)

    assert error_line(step) == (
        "dbt: ERROR creating sql table model marts.delivery_reconciliation: "
        "This model has an enforced contract that failed."
    )
    duckdb_error = SerializableErrorInfo(
        "_duckdb.CatalogException: Catalog Error: Table raw.x does not exist\n", [], "X"
    )
    assert error_line(duckdb_error) == "CatalogException: Catalog Error: Table raw.x does not exist"
