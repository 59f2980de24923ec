"""The mapping coverage report at the end of a run: which members have spend whose KOSTRA
art is missing or unknown above the cooperation's `unmapped_warning_share`.

Such lines load, but they are not influenceable (BRIEF §4 rule 1), so coverage and loyalty
leave them out until the member's source profile maps their account codes. The details
are the published `unmapped_codes` table (`samkjop export unmapped_codes`); this module
turns it into the few lines a run prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

TABLE = "marts.unmapped_codes"


@dataclass(frozen=True)
class UnmappedShare:
    """One member's unmapped spend in one year."""

    municipality_id: str
    municipality_name: str | None
    year: int
    amount: Decimal
    total_spend: Decimal
    line_count: int
    largest_codes: tuple[tuple[str, Decimal], ...]  # (account code, amount), largest first

    @property
    def share(self) -> float | None:
        """amount / total spend; None when the member's total is 0 (rule 7)."""
        return None if not self.total_spend else float(self.amount / self.total_spend)


def unmapped_shares(snapshot: Path, largest: int = 3) -> list[UnmappedShare]:
    """Every member and year with unmapped lines in the published snapshot, in member and
    year order. An older snapshot without the table has none."""
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'marts' AND table_name = 'unmapped_codes'"
        ).fetchone()[0]
        if not exists:
            return []
        rows = con.execute(
            f"""
            SELECT
                municipality_id, any_value(municipality_name), year, sum(amount),
                any_value(member_total_spend), sum(line_count),
                list(struct_pack(code := account_code, amount := amount)
                     ORDER BY amount DESC, account_code)
            FROM {TABLE}
            GROUP BY municipality_id, year
            ORDER BY municipality_id, year
            """
        ).fetchall()
    finally:
        con.close()
    return [
        UnmappedShare(
            member,
            name,
            year,
            amount,
            total or Decimal(0),
            int(lines),
            tuple((c["code"], c["amount"]) for c in codes[:largest]),
        )
        for member, name, year, amount, total, lines, codes in rows
    ]


def unmapped_code_warnings(snapshot: Path, warning_share: float) -> list[str]:
    """One warning line per member and year whose spend without a known KOSTRA art is more
    than `warning_share` (cooperation.unmapped_warning_share) of its total spend; empty
    when no member is above it."""
    warnings = []
    for item in unmapped_shares(snapshot):
        if item.share is None or item.share <= warning_share:
            continue
        codes = ", ".join(f"{code} {_amount(amount)}" for code, amount in item.largest_codes)
        member = f"{item.municipality_id} {item.municipality_name or ''}".strip()
        warnings.append(
            f"{member} {item.year}: {item.share:.1%} of its spend ({_amount(item.amount)} on "
            f"{item.line_count:,} lines) has no known KOSTRA art (above "
            f"{warning_share:.1%}), so it is not influenceable; largest codes: {codes}. "
            "Map them in the member's source profile (`samkjop export unmapped_codes`)."
        )
    return warnings


def _amount(value: Decimal) -> str:
    return f"{value:,.2f}"
