from pathlib import Path

import pytest

from pipelines.settings import DBT_PROJECT_DIR, ConfigError, Limits, load_config
from tests.conftest import CONFIG, write


def test_the_issue_example_is_accepted_as_written(innherred: Path):
    cooperation = load_config(innherred)
    assert cooperation.name == "Innherred innkjøp"
    assert cooperation.country == "NO"  # not YAML 1.1's false
    assert cooperation.currency == "NOK"
    assert cooperation.host == "5037"
    assert cooperation.loyalty_target == 0.8
    assert cooperation.warehouse == innherred.parent / "warehouse" / "samkjop.duckdb"
    assert cooperation.reference["taxonomy"] == (innherred.parent / "taxonomy.csv").resolve()
    (member,) = cooperation.members
    assert (member.id, member.name, member.population) == ("5037", "Levanger", 20500)
    assert member.spend[0].files() == [innherred.parent / "spend_5037.csv"]
    assert cooperation.thresholds == (100_000, 1_300_000, 2_300_000)


def test_reference_defaults_apply_when_not_configured(innherred: Path):
    text = CONFIG.replace("  taxonomy: taxonomy.csv\n", "")
    cooperation = load_config(write(innherred, text))
    assert cooperation.reference_file("taxonomy").name == "taxonomy.csv"
    assert cooperation.reference_file("taxonomy") == DBT_PROJECT_DIR / "seeds" / "taxonomy.csv"
    assert (
        cooperation.reference_file("kostra_arts") == DBT_PROJECT_DIR / "seeds" / "kostra_arts.csv"
    )
    assert cooperation.reference_overrides == ["classification_rules"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("municipalities:", "municipalites:", "top level: unknown key 'municipalites'"),
        ('  host: "5037"', '  host: "9999"', "cooperation.host: '9999' is not the id"),
        ("loyalty: 0.8", "loyalty: 80", "cooperation.targets.loyalty: 80 must be a fraction"),
        ("  country: NO", "  country: XX", "cooperation.country: 'XX' is not valid"),
        ("  currency: NOK", "  currency: kroner", "cooperation.currency: 'kroner' is not valid"),
        ("population: 20500", "population: many", "municipalities[0].population"),
        (
            "  targets:",
            "  duplicate_window_days: -1\n  targets:",
            "cooperation.duplicate_window_days: -1 must be a whole number of days",
        ),
        (
            "path: spend_5037.csv",
            "path: missing.csv",
            "municipalities[0].spend[0].path: file not found",
        ),
        ("  taxonomy: taxonomy.csv", "  taxonomy: nowhere.csv", "reference.taxonomy: file not"),
        ("  taxonomy: taxonomy.csv", "  colours: c.csv", "reference: unknown key 'colours'"),
        (
            "    profile: canonical\nmunicipalities",
            "municipalities",
            "agreements[0]: required key 'profile' is missing",
        ),
    ],
)
def test_bad_configuration_names_the_key(innherred: Path, old: str, new: str, message: str):
    assert old in CONFIG
    write(innherred, CONFIG.replace(old, new, 1))
    with pytest.raises(ConfigError) as error:
        load_config(innherred)
    assert message in str(error.value)
    assert str(innherred) in str(error.value)


def test_missing_config_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.yml")


def test_glob_matching_nothing_is_an_error_naming_the_key_and_the_path(innherred: Path):
    write(innherred, CONFIG.replace("path: spend_5037.csv", "path: spend/5037/*.csv"))
    with pytest.raises(ConfigError) as error:
        load_config(innherred)
    assert "municipalities[0].spend[0].path: no file matches" in str(error.value)
    assert str(innherred.parent / "spend/5037/*.csv") in str(error.value)


def test_an_optional_glob_matching_nothing_is_a_member_without_deliveries(innherred: Path):
    write(
        innherred,
        CONFIG.replace("path: spend_5037.csv", "path: spend/5037/*.csv\n        optional: true"),
    )
    assert load_config(innherred).members[0].spend[0].files() == []


def test_price_lists_and_price_tolerance(innherred: Path):
    cooperation = load_config(innherred)
    assert (cooperation.price_lists, cooperation.price_tolerance) == ((), 0.02)
    write(innherred.parent / "prices_2024.csv", "agreement_id\n")
    text = CONFIG.replace("  targets:", "  price_tolerance: 0.05\n  targets:").replace(
        "municipalities:", "price_lists:\n  - path: prices_*.csv\nmunicipalities:", 1
    )
    cooperation = load_config(write(innherred, text))
    assert cooperation.price_tolerance == 0.05
    (source,) = cooperation.price_lists
    assert (source.profile, source.where) == ("canonical", "price_lists[0]")
    assert source.files() == [innherred.parent / "prices_2024.csv"]


@pytest.mark.parametrize(
    ("addition", "message"),
    [
        ("price_lists:\n  - path: nowhere.csv\n", "price_lists[0].path: file not found"),
        ("price_lists:\n  - {path: p.csv, sheet: 1}\n", "price_lists[0]: unknown key 'sheet'"),
        ("price_lists:\n  - profile: canonical\n", "price_lists[0]: required key 'path'"),
        ("price_lists: prices.csv\n", "price_lists: expected a list of {path} entries"),
    ],
)
def test_bad_price_lists_name_the_key(innherred: Path, addition: str, message: str):
    write(innherred.parent / "p.csv", "agreement_id\n")
    write(innherred, CONFIG.replace("municipalities:", addition + "municipalities:", 1))
    with pytest.raises(ConfigError) as error:
        load_config(innherred)
    assert message in str(error.value) and str(innherred) in str(error.value)


@pytest.mark.parametrize("value", ["2", "-0.01", "true", "'2 %'"])
def test_price_tolerance_must_be_a_fraction(innherred: Path, value: str):
    write(innherred, CONFIG.replace("  targets:", f"  price_tolerance: {value}\n  targets:"))
    with pytest.raises(ConfigError, match="cooperation.price_tolerance: .* must be a fraction"):
        load_config(innherred)


def test_duplicate_window_days_defaults_to_7_and_reaches_dbt(innherred: Path):
    from pipelines.defs.transform.dbt import dbt_vars

    assert load_config(innherred).duplicate_window_days == 7
    text = CONFIG.replace("  targets:", "  duplicate_window_days: 3\n  targets:")
    cooperation = load_config(write(innherred, text))
    assert dbt_vars(cooperation)["duplicate_window_days"] == 3
    assert dbt_vars(cooperation)["thresholds"] == [100_000, 1_300_000, 2_300_000]


def test_limits_default_and_are_read_with_their_keys_checked(innherred: Path):
    cooperation = load_config(innherred)
    assert cooperation.limits == Limits()
    assert (cooperation.allowed_folders, cooperation.follow_symlinks) == ((), False)
    text = CONFIG + "limits:\n  xlsx_max_rows: 5000\n  xml_max_file_bytes: 1000000\n"
    limits = load_config(write(innherred, text)).limits
    assert (limits.xlsx_max_rows, limits.xml_max_file_bytes) == (5000, 1_000_000)
    assert limits.xlsx_max_part_bytes == Limits().xlsx_max_part_bytes
    write(innherred, CONFIG + "limits:\n  xlsx_max_rows: many\n")
    with pytest.raises(ConfigError) as error:
        load_config(innherred)
    assert str(error.value) == (
        f"{innherred}: limits.xlsx_max_rows: 'many' must be a whole number ≥ 0"
    )
    write(innherred, CONFIG + "limits:\n  xlsx_rows: 5\n")
    with pytest.raises(ConfigError, match=r"limits: unknown key 'xlsx_rows' \(allowed keys: "):
        load_config(innherred)
