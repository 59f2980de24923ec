"""Organisation numbers: cleaned and validated per country with python-stdnum (GB: by format)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from stdnum import exceptions
from stdnum.dk import cpr, cvr
from stdnum.fi import ytunnus
from stdnum.no import fodselsnummer, mva, orgnr
from stdnum.se import orgnr as se_orgnr


class OrgNo(NamedTuple):
    raw: str
    compact: str | None  # the validated number, or None when missing or invalid
    is_valid: bool


def _validate_no(value: str) -> str:
    compact = mva.compact(value)  # strips spaces, separators and the NO prefix
    return orgnr.validate(compact.removesuffix("MVA"))


def _validate_dk(value: str) -> str:
    cleaned = value.upper().replace("DK", "", 1) if value.upper().startswith("DK") else value
    return cvr.validate(cleaned)


def _validate_se(value: str) -> str:
    cleaned = value.upper()
    if cleaned.startswith("SE"):  # a VAT number: SE + 10 digits + 01
        cleaned = cleaned[2:].replace(" ", "")
        cleaned = cleaned[:-2] if len(cleaned) == 12 and cleaned.endswith("01") else cleaned
    return se_orgnr.validate(cleaned)


def _validate_fi(value: str) -> str:
    return ytunnus.validate(value)


_GB_COMPANY_NUMBER = re.compile(r"\d{8}|[A-Z]{2}\d{6}")


def _validate_gb(value: str) -> str:
    """A UK Companies House company number, checked by its format.

    python-stdnum has no validator for company numbers (`stdnum.gb` covers NHS numbers,
    SEDOL, UPN, UTR and VAT numbers only), and a company number has no check digit to
    test, so the format is the whole check: 8 characters, either 8 digits (England and
    Wales, e.g. 04149192) or 2 letters and 6 digits (a register prefix such as SC for
    Scotland, NI for Northern Ireland, OC for an LLP: SC123456). Spaces are removed and
    letters upper-cased first; a number written without its leading zeros (4149192) or
    with anything else (a National Insurance number such as JN393272A) is not valid.
    """
    compact = re.sub(r"\s", "", value).upper()
    if not _GB_COMPANY_NUMBER.fullmatch(compact):
        raise exceptions.InvalidFormat("not a UK company number (8 digits, or 2 letters + 6)")
    return compact


_VALIDATORS = {
    "NO": _validate_no,
    "DK": _validate_dk,
    "SE": _validate_se,
    "FI": _validate_fi,
    "GB": _validate_gb,
}


@lru_cache(maxsize=200_000)
def clean_org_no(raw: str | None, country: str) -> OrgNo:
    """Validate one organisation number as a source wrote it (spaces, NO prefix, MVA suffix)."""
    text = (raw or "").strip()
    if not text:
        return OrgNo(text, None, False)
    try:
        return OrgNo(text, _VALIDATORS[country](text), True)
    except (exceptions.ValidationError, ValueError):
        return OrgNo(text, None, False)


# --- Personal identity numbers in an organisation-number column (GDPR) -----------------------

PERSONAL_ID_MASK = "[personal identity number]"


@lru_cache(maxsize=200_000)
def is_personal_id_number(raw: str | None) -> bool:
    """Whether `raw`, delivered where an organisation number belongs, is a Norwegian
    fødselsnummer / D-number (11 digits, python-stdnum `no.fodselsnummer`) or a Danish CPR
    number (10 digits, `dk.cpr`): a private person's identity, whatever the cooperation's
    country. Separators and spaces are ignored; an organisation number is never one
    (9 or 8 digits)."""
    text = (raw or "").strip()
    if not text:
        return False
    return bool(fodselsnummer.is_valid(text) or cpr.is_valid(text))


# a number a personal identity number may hide in: 6 digits (the birth date), then the
# rest (4 for CPR, 5 for a fødselsnummer), optionally after one space or hyphen
_PERSONAL_ID_CANDIDATE = re.compile(r"(?<![0-9])[0-9]{6}[ -]?[0-9]{4,5}(?![0-9])")


def mask_personal_id_numbers(text: str | None) -> str | None:
    """`text` with every number in it that is_personal_id_number replaced by
    PERSONAL_ID_MASK: a whole organisation-number value, or a raw delivered row (rejected
    and excluded rows) whose organisation-number field holds one. A number that happens to
    pass the check (an invoice number shaped like a CPR number) is masked too; NULL stays
    NULL. The exports apply it to every table but `spend_lines` (pipelines/export.py)."""
    if text is None:
        return None
    return _PERSONAL_ID_CANDIDATE.sub(
        lambda found: PERSONAL_ID_MASK if is_personal_id_number(found.group()) else found.group(),
        text,
    )


def masked_org_no(raw: str | None) -> str | None:
    """`raw` as it may be shown or exported: PERSONAL_ID_MASK in place of a personal
    identity number (is_personal_id_number), else unchanged. Everything but the auditor's
    line-level export shows this."""
    return PERSONAL_ID_MASK if is_personal_id_number(raw) else raw
