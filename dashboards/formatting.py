"""How numbers, amounts and dates are written (pure functions, unit-tested).

The reader's locale (Babel, CLDR data): `format_amount`, `format_percent`,
`format_number` and `format_date` take a language of dashboards.i18n.LANGUAGES
(nb: "1 713 456 kr", "1,7 mrd. kr", "82,6 %", "31. mai 2024"; da: "1.713.456 kr.",
"1,7 mia. kr."; en: "1,713,456 NOK", "1.7B NOK", "82.6%", "31 May 2024"). Babel
writes a non-breaking space (U+00A0) where the locale separates digits or a unit,
so that a figure is never broken over two lines. An undefined value (NULL in the
mart, NaN in pandas) is written MISSING ("–"), never 0.

The fmt_* functions below are the older locale-free convention (point as decimal
mark, "n/a"), kept for the code that still calls them (no dashboard page does).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from babel import dates as babel_dates
from babel import numbers as babel_numbers

from dashboards.i18n import BABEL_LOCALES, check_language

NOT_AVAILABLE = "n/a"
MISSING = "–"  # an undefined value in the reader's locale
# Compact amounts ("1,7 mrd. kr") from this absolute value on; below it in full.
COMPACT_FROM = 1_000_000


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


# --- In the reader's locale (Babel) -------------------------------------------------------


def _locale(language: str) -> str:
    return BABEL_LOCALES[check_language(language)]


def currency_symbol(currency: str, language: str) -> str:
    """The locale's sign of `currency`: NOK -> 'kr' (nb), DKK -> 'kr.' (da), 'NOK' (en)."""
    return babel_numbers.get_currency_symbol(currency, locale=_locale(language))


def format_number(value: Any, language: str, digits: int = 0) -> str:
    """A number with exactly `digits` decimals in the locale: 1234567 -> '1 234 567' (nb)."""
    if is_missing(value):
        return MISSING
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return babel_numbers.format_decimal(float(value), format=pattern, locale=_locale(language))


def format_amount(value: Any, currency: str, language: str, compact: bool = False) -> str:
    """An amount with the locale's currency sign after it, in whole units:
    1713456 -> '1 713 456 kr' (nb), '1.713.456 kr.' (da), '1,713,456 NOK' (en).
    `compact` (headline figures) from a million on, with one decimal:
    1713456000 -> '1,7 mrd. kr' (nb), '1,7 mia. kr.' (da), '1.7B NOK' (en)."""
    if is_missing(value):
        return MISSING
    amount = float(value)
    locale = _locale(language)
    symbol = currency_symbol(currency, language) if currency else ""
    if compact and abs(amount) >= COMPACT_FROM:
        text = babel_numbers.format_compact_decimal(amount, locale=locale, fraction_digits=1)
    else:
        text = format_number(amount, language)
    return f"{text}\u00a0{symbol}" if symbol else text


def format_percent(value: Any, language: str, digits: int = 1) -> str:
    """A fraction 0..1 as a percentage in the locale: 0.826 -> '82,6 %' (nb, da),
    '82.6%' (en); NULL -> '–'."""
    if is_missing(value):
        return MISSING
    locale = babel_numbers.Locale.parse(_locale(language))
    fraction = round(float(value), digits + 2) + 0.0  # + 0.0: never "-0 %"
    pattern = locale.percent_formats[None].pattern.split(";")[0]
    decimals = "." + "0" * digits if digits > 0 else ""
    pattern = pattern.replace("#,##0", "#,##0" + decimals, 1)
    return babel_numbers.format_percent(fraction, format=pattern, locale=locale)


def format_points(value: Any, language: str, digits: int = 1) -> str:
    """A difference of two fractions in percentage points with its sign:
    -0.032 -> '-3,2 pp' (nb), '-3.2 pp' (en); NULL -> '–'."""
    if is_missing(value):
        return MISSING
    points = round(float(value) * 100, digits) + 0.0  # + 0.0 turns -0.0 into 0.0
    pattern = "+#,##0" + ("." + "0" * digits if digits > 0 else "")
    pattern += ";-#,##0" + ("." + "0" * digits if digits > 0 else "")
    text = babel_numbers.format_decimal(points, format=pattern, locale=_locale(language))
    return f"{text}\u00a0pp"


def _as_date(value: Any) -> dt.date:
    """A pandas Timestamp, datetime, date or ISO text as a date."""
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def format_date(value: Any, language: str) -> str:
    """A date in the locale's medium form: '31. mai 2024' (nb), '31. maj 2024' (da),
    '31 May 2024' (en); pandas Timestamp, datetime, date or ISO text; NULL -> '–'."""
    if is_missing(value):
        return MISSING
    return babel_dates.format_date(_as_date(value), format="medium", locale=_locale(language))


def format_month(value: Any, language: str) -> str:
    """A month as 'mai 2024' (nb), 'maj 2024' (da), 'May 2024' (en); NULL -> '–'."""
    if is_missing(value):
        return MISSING
    return babel_dates.format_date(_as_date(value), format="LLLL y", locale=_locale(language))
