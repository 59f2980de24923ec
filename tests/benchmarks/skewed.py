"""Write the skewed benchmark cooperation: a small demo cooperation (synthetic data,
`pipelines/demo.py`) in which one member, Stjørdal, also pays one catch-all payee
20 000 times over the demo's two years. Used by `make bench-skewed`; rerun it to compare.

    python -m tests.benchmarks.skewed --out /tmp/samkjop-skewed [--lines 30000]
        [--payee-invoices 20000] [--redacted-id-share 0.05]

The payee is shaped like the real catch-all payees of published council payment files
("REDACTED PERSONAL DATA"): no organisation number, one line per payment, half of the
payments at one of a few standard rates (so many equal amounts fall within a week of each
other), and a share of payments whose invoice number is redacted as well (the same id
many times in one file; `--redacted-id-share 1` redacts every one, the harshest shape).
Nothing here is real spend; the file and DEMO_DATA.md say so.
"""

from __future__ import annotations

import argparse
import csv
import random
from datetime import date, timedelta
from pathlib import Path

from pipelines.contracts import column_names
from pipelines.demo import generate_demo

MEMBER = "5035"  # Stjørdal, the demo's host
PAYEE = "REDACTED PERSONAL DATA"
PAYEE_FILE = f"spend/{MEMBER}/{MEMBER}_catch_all_payee.csv"
FIRST_DAY, LAST_DAY = date(2024, 1, 1), date(2025, 12, 31)  # the demo's months
STANDARD_RATES = ("1250.00", "2500.00", "3668.16", "5000.00")  # half of the payments
STANDARD_RATE_SHARE = 0.5
REDACTED_ID_SHARE = 0.05  # default share of payments whose invoice number is redacted too


def payee_rows(invoices: int, seed: int, redacted_id_share: float) -> list[dict[str, str]]:
    """`invoices` payments to the catch-all payee, one line each, in date order."""
    rng = random.Random(seed)
    days = (LAST_DAY - FIRST_DAY).days
    dates = sorted(FIRST_DAY + timedelta(days=rng.randint(0, days)) for _ in range(invoices))
    rows = []
    for number, invoice_date in enumerate(dates, start=1):
        if rng.random() < STANDARD_RATE_SHARE:
            amount = rng.choice(STANDARD_RATES)
        else:
            amount = f"{rng.randint(10_000, 5_000_000) / 100:.2f}"
        redacted = rng.random() < redacted_id_share
        rows.append(
            {
                "municipality_id": MEMBER,
                "invoice_id": PAYEE if redacted else f"TP{number:06d}",
                "line_no": "1",
                "invoice_date": invoice_date.isoformat(),
                "supplier_name": PAYEE,
                "account": "47010",
                "art": "470",  # transfers to others: not influenceable
                "amount_excl_vat": amount,
                "currency": "NOK",
                "description": "Payment (synthetic benchmark data)",
            }
        )
    return rows


def write_payee_file(out_dir: Path, invoices: int, seed: int, redacted_id_share: float) -> Path:
    path = out_dir / PAYEE_FILE
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=column_names("spend"), restval="")
        writer.writeheader()
        writer.writerows(payee_rows(invoices, seed, redacted_id_share))
    return path


def note(out_dir: Path, invoices: int, redacted_id_share: float) -> None:
    """Say in DEMO_DATA.md what the benchmark added to the demo."""
    with (out_dir / "DEMO_DATA.md").open("a", encoding="utf-8") as handle:
        handle.write(
            f"\n## Skewed benchmark payee (synthetic)\n\n`{PAYEE_FILE}` adds {invoices:,} "
            f"payments by {MEMBER} to one catch-all payee, {PAYEE!r}, without an "
            "organisation number: half of them at one of the standard rates "
            f"{', '.join(STANDARD_RATES)}, {redacted_id_share:.0%} with the invoice number "
            "redacted too. Written by tests/benchmarks/skewed.py to measure "
            "possible_duplicate_invoices on a skewed payee; not real spend.\n"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--lines", type=int, default=30_000, help="demo lines around the payee")
    parser.add_argument("--payee-invoices", type=int, default=20_000)
    parser.add_argument("--redacted-id-share", type=float, default=REDACTED_ID_SHARE)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    config = generate_demo(args.out, seed=args.seed, lines=args.lines)
    path = write_payee_file(args.out, args.payee_invoices, args.seed, args.redacted_id_share)
    note(args.out, args.payee_invoices, args.redacted_id_share)
    print(f"{path}: {args.payee_invoices:,} payments to {PAYEE!r}")
    print(f"Next: samkjop run --config {config}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
