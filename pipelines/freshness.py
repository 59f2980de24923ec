"""Is every member delivering on time? The spend contract's SLA, per member.

`data_contracts/spend.odcs.yaml` promises one delivery per member per period in its
`slaProperties` (`frequency`: `value` periods of `unit`, e.g. 1 month). A member is
**overdue** when its last *accepted* delivery (a file that loaded, including one that a
later re-delivery replaced; never a rejected file or a duplicate) is older than that: last
accepted on 5 March with a monthly SLA, the member is due on 5 April and overdue from
6 April. A member with no accepted delivery at all is overdue too.

`overdue_members` is the one place this is decided: the Dagster freshness checks
(pipelines/defs/automation.py), `samkjop status` and the dashboards call it, on the
warehouse (`raw.deliveries`) or on the published snapshot
(`marts.delivery_reconciliation`).
"""

from __future__ import annotations

import calendar
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from pipelines.settings import CONTRACTS_DIR, Cooperation
from pipelines.yaml_loader import load_yaml

SLA_DATASET = "spend"
# A published delivery is accepted when it loaded, even if a later re-delivery replaced it
# (marts.delivery_reconciliation's statuses); a rejected file or a duplicate never is.
ACCEPTED_STATUSES = ("loaded", "replaced")
# ODCS v3 units, and the words people write for them
_UNITS = {
    "d": "day",
    "day": "day",
    "days": "day",
    "w": "week",
    "week": "week",
    "weeks": "week",
    "m": "month",
    "month": "month",
    "months": "month",
    "q": "quarter",
    "quarter": "quarter",
    "quarters": "quarter",
    "y": "year",
    "yr": "year",
    "year": "year",
    "years": "year",
}
_MONTHS = {"month": 1, "quarter": 3, "year": 12}


class SlaError(ValueError):
    """The contract's SLA cannot be read."""


@dataclass(frozen=True)
class DeliverySla:
    """One delivery per member every `every` `unit`s (`unit`: day, week, month, quarter,
    year)."""

    every: int
    unit: str
    description: str = ""

    def due(self, last: date) -> date:
        """The last day on which the next delivery is on time."""
        if self.unit in _MONTHS:
            return _add_months(last, self.every * _MONTHS[self.unit])
        days = self.every * (7 if self.unit == "week" else 1)
        return last + timedelta(days=days)

    def describe(self) -> str:
        if self.description:
            return self.description
        unit = self.unit if self.every == 1 else f"{self.unit}s"
        every = "" if self.every == 1 else f"{self.every} "
        return f"one delivery per member every {every}{unit}"


def _add_months(day: date, months: int) -> date:
    """The same day `months` later; the month's last day where it is shorter (31 January
    + 1 month = 28 or 29 February)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


@cache
def delivery_sla(dataset: str = SLA_DATASET) -> DeliverySla:
    """The `frequency` SLA property of `data_contracts/<dataset>.odcs.yaml`."""
    path = CONTRACTS_DIR / f"{dataset}.odcs.yaml"
    document = load_yaml(path.read_text(encoding="utf-8")) or {}
    for entry in document.get("slaProperties") or []:
        if entry.get("property") != "frequency":
            continue
        value, unit = entry.get("value"), str(entry.get("unit", "")).strip().lower()
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SlaError(f"{path}: slaProperties frequency: value {value!r} is not 1 or more")
        if unit not in _UNITS:
            raise SlaError(
                f"{path}: slaProperties frequency: unit {unit!r} is not one of "
                f"{', '.join(sorted(set(_UNITS)))}"
            )
        return DeliverySla(value, _UNITS[unit], str(entry.get("description") or ""))
    raise SlaError(f"{path}: no slaProperties entry with property: frequency")


@dataclass(frozen=True)
class MemberFreshness:
    """One member's last accepted delivery against the SLA, on `today`."""

    member_id: str
    member_name: str
    last_accepted: datetime | None  # when the platform loaded it
    due: date | None  # the last day on which the next delivery is on time
    today: date
    sla: DeliverySla

    @property
    def overdue(self) -> bool:
        return self.due is None or self.today > self.due

    @property
    def days_overdue(self) -> int | None:
        """Days past the due date (None: never delivered; 0 or less: not overdue)."""
        return None if self.due is None else (self.today - self.due).days

    @property
    def reason(self) -> str:
        """One line: why the member is (or is not) overdue."""
        if self.last_accepted is None:
            return f"no delivery accepted yet ({self.sla.describe()})"
        last = f"last accepted delivery {self.last_accepted:%Y-%m-%d}"
        if self.overdue:
            days = self.days_overdue
            return (
                f"{last}, due by {self.due:%Y-%m-%d}: {days} day{'s' if days != 1 else ''} "
                f"overdue ({self.sla.describe()})"
            )
        return f"{last}; next due by {self.due:%Y-%m-%d} ({self.sla.describe()})"


Source = Any  # a DuckDB connection, or the path of the warehouse or a published snapshot


def last_accepted_deliveries(source: Source) -> dict[str, datetime]:
    """Per member id, when its last accepted delivery was loaded. `source`: a DuckDB
    connection to the warehouse or to a published snapshot, or the path of either (opened
    read-only; a file that does not exist has no deliveries)."""
    import duckdb

    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            return {}
        con = duckdb.connect(str(path), read_only=True)
        try:
            return last_accepted_deliveries(con)
        finally:
            con.close()
    tables = {
        f"{schema}.{name}"
        for schema, name in source.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database()"
        ).fetchall()
    }
    if "raw.deliveries" in tables:  # the warehouse: a replaced delivery keeps status loaded
        sql = (
            "SELECT municipality_id, max(loaded_at) FROM raw.deliveries "
            "WHERE status = 'loaded' GROUP BY municipality_id"
        )
    elif "marts.delivery_reconciliation" in tables:  # a published snapshot
        sql = (
            "SELECT municipality_id, max(loaded_at) FROM marts.delivery_reconciliation "
            f"WHERE status IN ({', '.join(repr(s) for s in ACCEPTED_STATUSES)}) "
            "GROUP BY municipality_id"
        )
    else:
        return {}
    return {member_id: loaded_at for member_id, loaded_at in source.execute(sql).fetchall()}


def member_freshness(
    cooperation: Cooperation,
    source: Source = None,
    today: date | datetime | None = None,
    sla: DeliverySla | None = None,
) -> list[MemberFreshness]:
    """Every member of the cooperation, in its order, against the SLA on `today` (default:
    the local date). `source` defaults to the cooperation's published snapshot."""
    last = last_accepted_deliveries(cooperation.snapshot if source is None else source)
    return judge([(m.id, m.name) for m in cooperation.members], last, today, sla)


def judge(
    members: list[tuple[str, str]],
    last: dict[str, datetime],
    today: date | datetime | None = None,
    sla: DeliverySla | None = None,
) -> list[MemberFreshness]:
    """Each (member id, name) against the SLA, given its last accepted delivery (`last`,
    from last_accepted_deliveries); the dashboards, which know members from the snapshot,
    call this directly."""
    today = _day(today)
    sla = sla or delivery_sla()
    result = []
    for member_id, name in members:
        accepted = last.get(member_id)
        due = sla.due(accepted.date()) if accepted else None
        result.append(MemberFreshness(member_id, name, accepted, due, today, sla))
    return result


def overdue_members(
    cooperation: Cooperation,
    source: Source = None,
    today: date | datetime | None = None,
    sla: DeliverySla | None = None,
) -> list[MemberFreshness]:
    """The members whose last accepted delivery is older than the spend contract's SLA
    (or who have none), in the cooperation's order; each says why (`.reason`).

    `source`: a DuckDB connection to the warehouse (`raw.deliveries`) or to a published
    snapshot (`marts.delivery_reconciliation`), or the path of either; default: the
    cooperation's published snapshot. `today`: the day to judge on (default: today)."""
    return [m for m in member_freshness(cooperation, source, today, sla) if m.overdue]


def _day(value: date | datetime | None) -> date:
    if value is None:
        return date.today()
    return value.date() if isinstance(value, datetime) else value
