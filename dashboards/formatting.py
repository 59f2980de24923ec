"""How numbers are written on the dashboards (pure functions, unit-tested).

One convention everywhere: a point as decimal mark, a space as thousands
separator and before the unit ("12 345 678 NOK", "83.4 %"). A value that is
undefined (NULL in the mart, NaN in pandas) is written "n/a", never 0.
"""

from __future__ import annotations

import math
from typing import Any

NOT_AVAILABLE = "n/a"


def is_missing(value: Any) -> bool:
    """True for None, NaN and pandas' NA/NaT: a figure the mart left undefined."""
    if value is None:
        return True
    try:
        return bool(math.isnan(value))
    except (TypeError, ValueError):
        # pandas.NA and NaT refuse float conversion; anything else is a value.
        return str(value) in {"<NA>", "NaT"}


def fmt_amount(value: Any, currency: str = "") -> str:
    """An amount in whole currency units: 12345678.4 -> '12 345 678 NOK'."""
    if is_missing(value):
        return NOT_AVAILABLE
    text = f"{round(float(value)):,}".replace(",", " ")
    return f"{text} {currency}".rstrip()


def fmt_amount_short(value: Any, currency: str = "") -> str:
    """A headline amount that fits a metric card: from 10 million on, in millions
    (1708583975 -> '1 708.6 M NOK'); below that, as fmt_amount."""
    if is_missing(value) or abs(float(value)) < 10_000_000:
        return fmt_amount(value, currency)
    text = f"{float(value) / 1_000_000:,.1f}".replace(",", " ")
    return f"{text} M {currency}".rstrip()


def fmt_pct(value: Any, decimals: int = 1) -> str:
    """A fraction 0..1 as a percentage: 0.834 -> '83.4 %'; NULL -> 'n/a'."""
    if is_missing(value):
        return NOT_AVAILABLE
    return f"{float(value) * 100:.{decimals}f} %"


def fmt_pp(value: Any) -> str:
    """A difference of two fractions in percentage points: -0.032 -> '-3.2 pp'."""
    if is_missing(value):
        return NOT_AVAILABLE
    points = round(float(value) * 100, 1) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{points:+.1f} pp"


def fmt_org_no(value: Any) -> str:
    """An organisation number as stored, or an en dash where the source had none."""
    return "–" if is_missing(value) or str(value).strip() == "" else str(value)


def fmt_price(value: Any, currency: str = "") -> str:
    """A unit price with two decimals: 1234.5 -> '1 234.50 NOK'; NULL -> 'n/a'."""
    if is_missing(value):
        return NOT_AVAILABLE
    text = f"{float(value):,.2f}".replace(",", " ")
    return f"{text} {currency}".rstrip()


def fmt_quantity(value: Any) -> str:
    """A quantity without trailing zeros: 5.0000 -> '5', -2.5 -> '-2.5'; NULL -> 'n/a'."""
    if is_missing(value):
        return NOT_AVAILABLE
    text = f"{float(value):,.4f}".rstrip("0").rstrip(".").replace(",", " ")
    return "0" if text == "-0" else text


def fmt_date(value: Any) -> str:
    """A date as 2024-05-31 (pandas Timestamp, date or ISO text); NULL -> 'n/a'."""
    if is_missing(value):
        return NOT_AVAILABLE
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else str(value)[:10]
