"""Add one member's next monthly delivery to a demo cooperation: the `bench-delivery`
scenario of `make bench` (tests/benchmarks/bench.py). Synthetic data, like the demo.

    python -m tests.benchmarks.delivery --out DIR [--member 5035] [--lines 50000]

The demo declares no periods, so every file adds its lines: the new file covers a new
period, the month after the member's latest delivery (`5035_2026-01.csv` after the demo's
`5035_2025-12.csv`, then `5035_2026-02.csv` ...), in the member's own folder and file
name pattern, so the member's glob picks it up. Its lines are the invoices of the
member's latest delivery, drawn at random (with replacement) until there are `--lines`
lines: each gets a new invoice number and the same day of the new month, and its amounts
a random factor between 0.7 and 1.3 (lines with a unit price keep theirs), so that
suppliers, accounts, categories and agreements look like the member's and no invoice
repeats another's amount on the same day. Invoices in another currency are left out
(the demo has no exchange rate for new months). Only members in the canonical format.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import random
import re
from collections import defaultdict
from datetime import date
from pathlib import Path

import yaml

MEMBER = "5035"  # Stjørdal, the demo's host and largest member
LINES = 50_000
CURRENCY = "NOK"


def _member_files(out_dir: Path, member: str) -> dict[tuple[int, int], Path]:
    """The member's monthly files by (year, month): `<member>_YYYY-MM.csv`."""
    pattern = re.compile(rf"{re.escape(member)}_(\d{{4}})-(\d{{2}})\.csv")
    found = {}
    for path in (out_dir / "spend" / member).glob("*.csv"):
        match = pattern.fullmatch(path.name)
        if match:
            found[(int(match[1]), int(match[2]))] = path
    return found


def _check_canonical(out_dir: Path, member: str) -> None:
    config = yaml.safe_load((out_dir / "cooperation.yml").read_text(encoding="utf-8"))
    for entry in config["municipalities"]:
        if str(entry["id"]) == member:
            profiles = {spend["profile"] for spend in entry.get("spend") or []}
            if profiles != {"canonical"}:
                raise SystemExit(f"member {member} delivers {profiles}: only canonical members")
            return
    raise SystemExit(f"member {member} is not in {out_dir / 'cooperation.yml'}")


def write_delivery(out_dir: Path, member: str = MEMBER, lines: int = LINES, seed: int = 42) -> Path:
    """Write the member's next monthly delivery of `lines` lines; return its path."""
    out_dir = Path(out_dir)
    _check_canonical(out_dir, member)
    files = _member_files(out_dir, member)
    if not files:
        raise SystemExit(f"no monthly file {member}_YYYY-MM.csv in {out_dir / 'spend' / member}")
    year, month = max(files)
    source = files[(year, month)]
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    this_month = date.today().replace(day=1)
    if date(year, month, 1) > this_month:
        raise SystemExit(
            f"{member}'s next monthly delivery would be for {year}-{month:02d}, after this month "
            f"({this_month:%Y-%m}): a delivery from the future is not a monthly delivery, and "
            "the loader rejects its dates more than a year ahead. Start again from a new "
            "cooperation (make bench)."
        )
    last_day = calendar.monthrange(year, month)[1]
    with source.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        invoices: dict[str, list[dict]] = defaultdict(list)
        for row in reader:
            invoices[row["invoice_id"]].append(row)
    drawn = [rows for rows in invoices.values() if all(r["currency"] == CURRENCY for r in rows)]
    if not drawn:
        raise SystemExit(f"{source} has no invoice in {CURRENCY} to draw from")
    rng = random.Random(f"samkjop-bench-delivery:{seed}:{member}:{year}-{month:02d}")
    target = source.with_name(f"{member}_{year}-{month:02d}.csv")
    written = number = 0
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        while written < lines:
            number += 1
            factor = rng.uniform(0.7, 1.3)
            for row in rng.choice(drawn)[: lines - written]:
                day = min(int(row["invoice_date"][8:10]), last_day)
                amount = row["amount_excl_vat"]
                if not row.get("unit_price"):
                    amount = f"{round(float(amount) * factor, 2):.2f}"
                writer.writerow(
                    {
                        **row,
                        "invoice_id": f"B{year}{month:02d}{number:07d}",
                        "invoice_date": f"{year}-{month:02d}-{day:02d}",
                        "amount_excl_vat": amount,
                    }
                )
                written += 1
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="the demo cooperation's folder")
    parser.add_argument("--member", default=MEMBER)
    parser.add_argument("--lines", type=int, default=LINES)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    path = write_delivery(args.out, args.member, args.lines, args.seed)
    print(f"{path}: {args.lines:,} lines, a new monthly delivery of {args.member}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
