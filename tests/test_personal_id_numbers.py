"""A personal identity number delivered in an organisation-number column is recognised
(python-stdnum's no.fodselsnummer, dk.cpr) and masked (pipelines/orgno.py)."""

from pipelines.orgno import (
    PERSONAL_ID_MASK,
    clean_org_no,
    is_personal_id_number,
    mask_personal_id_numbers,
    masked_org_no,
)


def test_personal_identity_numbers_are_recognised_and_masked():
    assert is_personal_id_number("15108695088")  # a valid Norwegian fødselsnummer
    assert is_personal_id_number("151086 95088")
    assert is_personal_id_number("211062-5629")  # a valid Danish CPR number
    assert masked_org_no("15108695088") == PERSONAL_ID_MASK
    assert not clean_org_no("15108695088", "NO").is_valid  # never an organisation number


def test_organisation_numbers_and_near_misses_are_left_alone():
    for value in ("974760673", "NO 974 760 673 MVA", "13585628", "15108695089", "", None):
        assert not is_personal_id_number(value), value
        assert masked_org_no(value) == value


def test_numbers_inside_a_text_are_masked_where_they_are_personal_identity_numbers():
    assert mask_personal_id_numbers("5035;F-9;Ola;15108695088;x") == (
        f"5035;F-9;Ola;{PERSONAL_ID_MASK};x"
    )
    assert mask_personal_id_numbers("Hansen (211062-5629), Kontor AS (974760673)") == (
        f"Hansen ({PERSONAL_ID_MASK}), Kontor AS (974760673)"
    )
    # near misses and longer digit runs stay: a wrong check digit, 12 or 13 digits
    for text in ("15108695089", "151086950880", "1234567890123", "", None):
        assert mask_personal_id_numbers(text) == text
