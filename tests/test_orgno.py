"""Organisation numbers per country (pipelines/orgno.py); GB company numbers by format."""

from __future__ import annotations

import pytest

from pipelines.orgno import clean_org_no


@pytest.mark.parametrize(
    "raw, compact",
    [
        ("04149192", "04149192"),  # England and Wales: 8 digits
        ("SC123456", "SC123456"),  # Scotland: 2 letters + 6 digits
        ("NI050833", "NI050833"),  # Northern Ireland
        ("oc 301 234", "OC301234"),  # an LLP, written with spaces and in lower case
    ],
)
def test_a_gb_company_number_is_valid_by_its_format(raw, compact):
    assert clean_org_no(raw, "GB") == (raw, compact, True)


@pytest.mark.parametrize(
    "raw",
    [
        "4149192",  # a leading zero lost (a spreadsheet): 7 characters
        "041491920",  # 9 digits
        "JN393272A",  # a National Insurance number, not a company
        "S1234567",  # 1 letter + 7 digits
        "12-345678",
        "",
    ],
)
def test_anything_else_is_not_a_gb_company_number(raw):
    assert clean_org_no(raw, "GB") == (raw, None, False)


def test_the_nordic_numbers_are_checked_by_python_stdnum():
    assert clean_org_no("NO 923 609 016 MVA", "NO").compact == "923609016"
    assert not clean_org_no("923609017", "NO").is_valid  # wrong check digit
    assert clean_org_no("04149192", "NO").compact is None  # a GB number is not Norwegian
