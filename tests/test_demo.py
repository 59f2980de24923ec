"""The demo generator (pipelines/demo.py) and the shipped reference defaults."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import tracemalloc
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest
import yaml
from stdnum.no import orgnr

from pipelines.demo import (
    AGREEMENT_COLUMNS,
    CPV_CHECK,
    DEMO_LOYALTY,
    ERP_COLUMNS,
    MEMBERS,
    MISSING_RATE,
    SPEND_COLUMNS,
    generate_demo,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = ROOT / "pipelines" / "reference_defaults"
PROFILES = ROOT / "data_contracts" / "profiles"
KOSTRA_SOURCE = ROOT.parent / "shared" / "reference" / "kostra" / "KOSTRA_Arts_2024_kommuner.csv"

LINES = 6_000
SEED = 3
INFLUENCEABLE = {
    "100", "105", "110", "114", "115", "120", "130", "140", "150", "170", "180", "181", "182",
    "183", "184", "185", "195", "200", "209", "210", "220", "230", "240", "250", "260", "270",
    "370",
}
POPULATIONS = {"5035": 24050, "5032": 4096, "5033": 807, "5034": 2435, "5036": 2629,
               "5026": 2030}


class _Yaml12(yaml.SafeLoader):
    """`NO` is Norway, not false."""


_Yaml12.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _yaml(path: Path) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Yaml12)  # noqa: S506


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _org_no(raw: str) -> str:
    return re.sub(r"\s", "", raw.upper()).removeprefix("NO").removesuffix("MVA")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate_demo(out, seed=SEED, lines=LINES)
    return out


@pytest.fixture(scope="module")
def spend(demo: Path) -> list[dict]:
    """Every spend line of the demo, read with its member's format, in standard fields."""
    lines = []
    for member in MEMBERS:
        files = sorted((demo / "spend" / member.id).glob("*.csv"))
        for path in files:
            if member.profile == "canonical":
                for row in _csv(path):
                    lines.append({**row, "file": path.name, "amount": float(row["amount_excl_vat"])})
                continue
            columns = ERP_COLUMNS[member.profile]
            with open(path, encoding="cp1252", newline="") as handle:
                reader = csv.reader(handle, delimiter=";")
                assert tuple(next(reader)) == columns
                for record in reader:
                    row = dict(zip(columns, record, strict=True))
                    lines.append(_standard(member.id, member.profile, row) | {"file": path.name})
    return lines


def _standard(member_id: str, profile: str, row: dict[str, str]) -> dict:
    if profile == "visma-csv-selbu":
        names = ("Bilagsnr", "Linje", "Fakturadato", "Orgnr", "Leverandør", "Konto",
                 "Beløp eks mva", "Valuta", "Varekode")
        scheme = "CPV" if row["Varekode"] else ""
        art = row["Konto"][0:3]
    else:
        names = ("Fakturanr", "Linjenr", "Fakturadato", "Leverandørens orgnr", "Leverandørnavn",
                 "Kontonr", "Nettobeløp", "Valutakode", "Varekode")
        scheme = row["Kodeverk"]
        art = row["Kontonr"][1:4]
    invoice_id, line_no, day, org_no, name, account, amount, currency, code = (
        row[n] for n in names)
    d, m, y = day.split(".")
    return {
        "municipality_id": member_id, "invoice_id": invoice_id, "line_no": line_no,
        "invoice_date": f"{y}-{m}-{d}", "supplier_org_no": org_no, "supplier_name": name,
        "account": account, "art": art, "amount_text": amount, "currency": currency,
        "item_code": code, "item_code_scheme": scheme,
        "amount": float(amount.replace(" ", "").replace(",", ".")),
    }


# --- the demo --------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(demo: Path, tmp_path: Path):
    again = tmp_path / "again"
    generate_demo(again, seed=SEED, lines=LINES)
    first = sorted(p.relative_to(demo) for p in demo.rglob("*") if p.is_file())
    second = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert first == second
    for relative in first:
        assert (demo / relative).read_bytes() == (again / relative).read_bytes(), relative
    other = tmp_path / "other"
    generate_demo(other, seed=SEED + 1, lines=LINES)
    assert (other / "agreements.csv").read_bytes() != (demo / "agreements.csv").read_bytes()


def test_line_count_and_spread(spend: list[dict]):
    assert abs(len(spend) - LINES) <= LINES * 0.01
    per_member = Counter(line["municipality_id"] for line in spend)
    assert set(per_member) == set(POPULATIONS)
    assert per_member["5035"] == max(per_member.values())
    assert per_member["5033"] == min(per_member.values())
    assert per_member["5033"] > LINES * 0.02  # small members are not starved
    per_month = Counter(line["invoice_date"][:7] for line in spend)
    assert len(per_month) == 24
    assert per_month["2024-07"] < per_month["2024-06"] * 0.75  # summer dip
    assert per_month["2025-12"] > per_month["2025-11"]  # December peak


def test_config_lists_the_six_members(demo: Path):
    config_path = demo / "cooperation.yml"
    assert config_path.read_text(encoding="utf-8").startswith(
        f"# Demo data generated by samkjop demo --seed {SEED}\n")
    config = _yaml(config_path)
    assert config["cooperation"] == {"name": "Værnesregionen innkjøp (demo)", "country": "NO",
                                     "currency": "NOK", "host": "5035",
                                     "targets": {"loyalty": 0.8}}
    assert config["warehouse"] == "warehouse/samkjop.duckdb"
    assert set(config["reference"]) == {"classification_rules", "exchange_rates",
                                        "excluded_suppliers"}
    assert [a["profile"] for a in config["agreements"]] == ["canonical"]
    members = {str(m["id"]): m for m in config["municipalities"]}
    assert {k: m["population"] for k, m in members.items()} == POPULATIONS
    assert members["5034"]["name"] == "Meråker"
    for member_id, member in members.items():
        (source,) = member["spend"]
        files = sorted(demo.glob(source["path"]))
        assert len(files) == 24, member_id  # one delivery per month
        assert (PROFILES / f"{source['profile']}.yaml").is_file()
    assert members["5032"]["spend"][0]["profile"] == "visma-csv-selbu"
    assert members["5034"]["spend"][0]["profile"] == "erp-csv-meraker"
    assert "synthetic" in (demo / "DEMO_DATA.md").read_text(encoding="utf-8")


def test_config_loads_with_the_platform_settings(demo: Path):
    from pipelines.settings import load_config

    cooperation = load_config(demo / "cooperation.yml")
    assert cooperation.host == "5035"
    assert [m.id for m in cooperation.members] == [m.id for m in MEMBERS]
    assert all(len(m.spend[0].files()) == 24 for m in cooperation.members)


def test_erp_files_are_windows_1252_with_semicolons_and_decimal_comma(demo: Path):
    for member_id, profile in (("5032", "visma-csv-selbu"), ("5034", "erp-csv-meraker")):
        data = b"".join(p.read_bytes() for p in sorted((demo / "spend" / member_id).glob("*")))
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        text = data.decode("cp1252")
        assert "ø" in text and "å" in text
        header = text.split("\r\n", 1)[0]
        assert header == ";".join(ERP_COLUMNS[profile])
        rows = list(csv.reader(text.splitlines(), delimiter=";"))
        body = [r for r in rows if r and r[0] != ERP_COLUMNS[profile][0]]
        amount = ERP_COLUMNS[profile].index("Beløp eks mva" if member_id == "5032"
                                            else "Nettobeløp")
        amounts = [r[amount] for r in body]
        assert all(re.fullmatch(r"-?\d{1,3}( \d{3})*,\d{2}|-?\d+,\d{2}", a) for a in amounts)
        assert all(re.fullmatch(r"\d\d\.\d\d\.20\d\d", r[2]) for r in body)
        assert any(";" in cell for r in body for cell in r)  # quoted cells with the delimiter
        if member_id == "5034":
            assert any(" " in a for a in amounts)  # thousands separator
            assert all(r[5] == "" or r[5].startswith("4") for r in body)


def test_canonical_files_keep_the_canonical_format(demo: Path, spend: list[dict]):
    path = next((demo / "spend" / "5035").glob("*.csv"))
    assert path.read_text(encoding="utf-8").split("\n", 1)[0] == ",".join(SPEND_COLUMNS)
    canonical = [line for line in spend if line["municipality_id"] in ("5035", "5033", "5036",
                                                                          "5026")]
    for line in canonical:
        assert re.fullmatch(r"-?\d+\.\d{2}", line["amount_excl_vat"])
        date.fromisoformat(line["invoice_date"])
        assert line["art"] == "" or re.fullmatch(r"\d{3}", line["art"])
        assert line["account"].startswith(line["art"])
    tydal = {line["currency"] for line in canonical if line["municipality_id"] == "5033"}
    assert "" in tydal  # Tydal leaves the currency empty for NOK


def test_invoices_are_unique_per_member_with_numbered_lines(spend: list[dict]):
    invoices: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for line in spend:
        invoices[(line["municipality_id"], line["invoice_id"])].append(line)
    sizes = Counter()
    for lines in invoices.values():
        assert sorted(int(line["line_no"]) for line in lines) == list(range(1, len(lines) + 1))
        assert len({line["invoice_date"] for line in lines}) == 1
        assert len({line["supplier_org_no"] for line in lines}) == 1
        assert len({line["file"] for line in lines}) == 1
        sizes[len(lines) > 1] += 1
    assert sizes[True] > 0.2 * sum(sizes.values())  # many invoices have several lines


def test_organisation_numbers_mostly_valid_some_not(spend: list[dict]):
    raw = [line["supplier_org_no"] for line in spend]
    valid = sum(orgnr.is_valid(_org_no(r)) for r in raw if r)
    assert valid > 0.95 * len(raw)
    assert any(r == "" for r in raw)
    assert any(r and not orgnr.is_valid(_org_no(r)) and len(_org_no(r)) == 9 for r in raw)
    assert "12345" in raw
    assert any(re.fullmatch(r"\d{3} \d{3} \d{3}", r) for r in raw)
    assert any(re.fullmatch(r"NO ?\d{3} ?\d{3} ?\d{3} ?MVA", r) for r in raw)


def test_arts_credit_notes_currencies_and_codes(demo: Path, spend: list[dict]):
    arts = Counter(line["art"] for line in spend)
    assert any(a < "100" for a in arts if a)  # payroll
    assert {"190", "350", "375", "470", "999", ""} <= set(arts)
    influenceable = sum(n for a, n in arts.items() if a in INFLUENCEABLE)
    assert 0.6 < influenceable / len(spend) < 0.99
    negative = sum(line["amount"] < 0 for line in spend)
    assert 0.005 < negative / len(spend) < 0.04
    currencies = Counter(line["currency"] for line in spend)
    assert {"EUR", "SEK"} <= set(currencies)
    assert currencies["EUR"] + currencies["SEK"] < 0.02 * len(spend)
    missing_currency, missing_month = MISSING_RATE
    assert any(line["currency"] == missing_currency
               and line["invoice_date"][:7] == missing_month for line in spend)
    rates = _csv(demo / "exchange_rates.csv")
    assert list(rates[0]) == ["currency", "month", "rate_to_base", "source"]
    assert {(r["currency"], r["month"]) for r in rates} & {MISSING_RATE} == set()
    assert all(r["source"].startswith("demo:") for r in rates)
    assert len(rates) == 2 * 24 - 1

    coded = [line for line in spend if line["item_code"]]
    assert 0.3 < len(coded) / len(spend) < 0.5
    schemes = Counter(line["item_code_scheme"] for line in coded)
    assert schemes["CPV"] > schemes["UNSPSC"] > 0
    rules = [r for r in _csv(demo / "classification_rules.csv") if r["rule_type"] == "item_code"]
    for line in coded:
        if line["item_code_scheme"] != "CPV":
            continue
        code, _, check = line["item_code"].partition("-")
        assert re.fullmatch(r"\d{8}", code)
        assert not check or CPV_CHECK[code] == check
        assert any(code.startswith(r["pattern"]) for r in rules), code
    assert any("-" in line["item_code"] for line in coded)
    assert any(re.fullmatch(r"\d{8}", line["item_code"]) for line in coded)


def test_agreements_cover_the_cases_the_rules_need(demo: Path):
    rows = _csv(demo / "agreements.csv")
    assert tuple(rows[0]) == AGREEMENT_COLUMNS
    assert 30 <= len(rows) <= 60
    scopes = Counter(r["scope"] for r in rows)
    assert set(scopes) == {"national", "cooperation", "local"}
    assert scopes["cooperation"] > scopes["national"]
    for r in rows:
        assert all(orgnr.is_valid(_org_no(n)) for n in r["supplier_org_nos"].split(";"))
    assert any(len(r["supplier_org_nos"].split(";")) >= 3 and r["scope"] == "cooperation"
               for r in rows)
    assert any(len(r["category_ids"].split(";")) > 1 for r in rows)
    assert any(r["scope"] == "cooperation" and r["valid_to"] == "2024-08-31" for r in rows)
    assert any(r["scope"] == "cooperation" and r["valid_from"] == "2025-03-01" for r in rows)
    partial = [r["participants"].split(";") for r in rows
               if r["scope"] == "cooperation" and r["participants"] != "*"]
    assert partial and all(3 <= len(p) <= 4 for p in partial)
    assert all(len(r["participants"].split(";")) == 1 for r in rows if r["scope"] == "local")
    assert "0.0225" in {r["provision_rate"] for r in rows}
    by_scope = defaultdict(set)
    for r in rows:
        by_scope[r["scope"]].update(r["category_ids"].split(";"))
    assert by_scope["local"] & by_scope["cooperation"]  # overlapping scopes
    leaves = {r["category_id"] for r in _csv(DEFAULTS / "taxonomy.csv") if r["parent_id"]}
    covered = set().union(*by_scope.values())
    assert covered <= leaves
    assert 2 <= len(leaves - covered) <= 8  # a few categories without any agreement


def test_loyalty_differs_between_members(demo: Path, spend: list[dict]):
    """On lines that the item code classifies, buying on agreement follows DEMO_LOYALTY."""
    assert DEMO_LOYALTY["5035"] - DEMO_LOYALTY["5036"] >= 0.3
    rules = sorted(((r["pattern"], r["category_id"]) for r in _csv(demo / "classification_rules.csv")
                    if r["rule_type"] == "item_code"), key=lambda rule: -len(rule[0]))
    agreements = _csv(demo / "agreements.csv")
    covered, on = Counter(), Counter()
    for line in spend:
        if line["item_code_scheme"] != "CPV" or line["amount"] <= 0:
            continue
        code = line["item_code"].split("-")[0]
        category = next(c for p, c in rules if code.startswith(p))
        member, day = line["municipality_id"], line["invoice_date"]
        active = [a for a in agreements if category in a["category_ids"].split(";")
                  and (a["participants"] == "*" or member in a["participants"].split(";"))
                  and a["valid_from"] <= day <= a["valid_to"]]
        if not active:
            continue
        covered[member] += 1
        suppliers = {_org_no(n) for a in active for n in a["supplier_org_nos"].split(";")}
        on[member] += _org_no(line["supplier_org_no"]) in suppliers
    loyalty = {m: on[m] / covered[m] for m in covered}
    # Agreement suppliers send item codes more often, which lifts every member a little here.
    assert loyalty["5035"] > 0.85
    assert loyalty["5036"] < 0.8
    assert loyalty["5035"] - loyalty["5036"] > 0.15


def test_demo_reference_files(demo: Path):
    defaults = (DEFAULTS / "classification_rules.csv").read_text(encoding="utf-8")
    rules_text = (demo / "classification_rules.csv").read_text(encoding="utf-8")
    assert rules_text.startswith(defaults)
    supplier_rules = [r for r in _csv(demo / "classification_rules.csv")
                      if r["rule_type"] == "supplier"]
    assert 25 <= len(supplier_rules) <= 40
    leaves = {r["category_id"] for r in _csv(DEFAULTS / "taxonomy.csv") if r["parent_id"]}
    assert all(orgnr.is_valid(r["pattern"]) and r["category_id"] in leaves
               for r in supplier_rules)
    excluded = _csv(demo / "excluded_suppliers.csv")
    assert len(excluded) >= 2
    assert all(orgnr.is_valid(r["supplier_org_no"]) and r["reason"] for r in excluded)


_MEASURE = """
import json, resource, sys
from pathlib import Path
from pipelines.demo import generate_demo
reports = []
generate_demo(Path(sys.argv[1]), seed=1, lines=int(sys.argv[2]), progress=reports.append)
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"reports": reports, "peak_kib": peak_kib}))
"""


def _measure(out: Path, lines: int) -> dict:
    result = subprocess.run([sys.executable, "-c", _MEASURE, str(out), str(lines)], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_streams_200k_lines_in_bounded_memory_and_reports_progress(tmp_path: Path):
    small = _measure(tmp_path / "small", 10_000)
    large = _measure(tmp_path / "large", 200_000)
    growth_mb = (large["peak_kib"] - small["peak_kib"]) / 1024
    assert growth_mb < 20  # 20x the lines, (almost) the same memory: nothing is held
    reports = large["reports"]
    assert len(reports) == 2 and reports[-1] == 200_000
    assert 100_000 <= reports[0] < 101_000
    assert small["reports"] == [10_000]


def test_tracemalloc_peak_is_small(tmp_path: Path):
    tracemalloc.start()
    try:
        generate_demo(tmp_path, seed=2, lines=10_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


def test_zero_lines_still_writes_a_loadable_cooperation(tmp_path: Path):
    config = generate_demo(tmp_path, seed=5, lines=0)
    assert config == tmp_path / "cooperation.yml"
    assert len(list(tmp_path.glob("spend/*/*.csv"))) == 6 * 24


# --- the source profiles ---------------------------------------------------------------

PROFILE_KEYS = {"profile", "description", "format", "csv", "country", "currency", "fields", "art"}
CSV_KEYS = {"encoding", "delimiter", "quotechar", "decimal", "thousands", "header_row",
            "date_formats"}


@pytest.mark.parametrize("name", ["canonical", "visma-csv-selbu", "erp-csv-meraker"])
def test_profiles_are_valid_yaml_with_the_documented_keys(name: str):
    profile = _yaml(PROFILES / f"{name}.yaml")
    assert profile["profile"] == name
    assert set(profile) <= PROFILE_KEYS and profile["format"] == "csv"
    assert set(profile["csv"]) <= CSV_KEYS
    assert profile["csv"]["header_row"] == 1
    for field_name, source in profile["fields"].items():
        assert field_name in SPEND_COLUMNS and field_name != "art"
        assert len(source) == 1 and set(source) <= {"column", "constant"}
    columns = [s["column"] for s in profile["fields"].values() if "column" in s]
    if name == "canonical":
        assert profile["art"] == {"column": "art"}
        assert profile["csv"]["encoding"] == "utf-8" and profile["csv"]["delimiter"] == ","
        assert profile["csv"]["decimal"] == "." and profile["csv"]["date_formats"] == ["%Y-%m-%d"]
        assert columns == [c for c in SPEND_COLUMNS if c != "art"]
    else:
        assert profile["csv"] == {"encoding": "cp1252", "delimiter": ";", "quotechar": '"',
                                  "decimal": ",", "thousands": " ", "header_row": 1,
                                  "date_formats": ["%d.%m.%Y"]}
        assert profile["country"] == "NO" and profile["currency"] == "NOK"
        assert set(columns) <= set(ERP_COLUMNS[name])
        assert "art" not in columns and set(profile["art"]) == {"from_account"}
    from pipelines.profiles import load_profile

    assert load_profile(name, ROOT).name == name


def test_erp_profiles_read_the_art_where_the_demo_writes_it():
    selbu = _yaml(PROFILES / "visma-csv-selbu.yaml")["art"]["from_account"]
    meraker = _yaml(PROFILES / "erp-csv-meraker.yaml")["art"]["from_account"]
    assert ("11510"[selbu["start"] - 1:][:selbu["length"]]) == "115"
    assert ("411510"[meraker["start"] - 1:][:meraker["length"]]) == "115"


# --- the reference defaults ------------------------------------------------------------


def test_default_taxonomy_is_two_levels():
    rows = _csv(DEFAULTS / "taxonomy.csv")
    assert 30 <= len(rows) <= 50
    ids = [r["category_id"] for r in rows]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(\.[a-z_]+)?", i) for i in ids)
    groups = {r["category_id"] for r in rows if not r["parent_id"]}
    leaves = [r for r in rows if r["parent_id"]]
    assert 8 <= len(groups) <= 12
    assert all(r["parent_id"] in groups and r["category_id"].startswith(r["parent_id"] + ".")
               for r in leaves)
    assert groups == {r["parent_id"] for r in leaves}  # every group has leaves


def test_default_rules_point_to_leaves():
    leaves = {r["category_id"] for r in _csv(DEFAULTS / "taxonomy.csv") if r["parent_id"]}
    rules = _csv(DEFAULTS / "classification_rules.csv")
    assert {r["rule_type"] for r in rules} == {"item_code", "art"}  # no supplier rules
    assert all(r["category_id"] in leaves for r in rules)
    arts = {r["pattern"] for r in rules if r["rule_type"] == "art"}
    assert arts == INFLUENCEABLE
    patterns = [r["pattern"] for r in rules if r["rule_type"] == "item_code"]
    assert len(patterns) == len(set(patterns)) and all(p.isdigit() for p in patterns)
    prefixes = {"302": "it.hardware", "301": "kontor.rekvisita", "331": "helse.utstyr",
                "158": "mat.dagligvarer", "0913": "transport.drivstoff", "909": "renhold.tjenester",
                "45": "bygg.entreprise"}
    by_pattern = {r["pattern"]: r["category_id"] for r in rules if r["rule_type"] == "item_code"}
    assert all(by_pattern[p] == c for p, c in prefixes.items())
    with_code_rules = set(by_pattern.values())
    assert len(leaves - with_code_rules) <= 2


def test_default_kostra_arts_mark_the_influenceable_set():
    rows = _csv(DEFAULTS / "kostra_arts.csv")
    assert {r["art"] for r in rows if r["is_influenceable"] == "true"} == INFLUENCEABLE
    assert {r["is_influenceable"] for r in rows} == {"true", "false"}
    assert {"010", "190", "350", "375", "470", "590"} <= {r["art"] for r in rows}
    assert all(r["art_name"] == r["art_name"].strip() for r in rows)
    if KOSTRA_SOURCE.is_file():
        with open(KOSTRA_SOURCE, encoding="utf-8", newline="") as handle:
            source = [r["GroupingCode"].strip() for r in csv.DictReader(handle, delimiter=";")]
        assert [r["art"] for r in rows] == source


def test_default_exclusions_and_rates_are_empty():
    assert (DEFAULTS / "excluded_suppliers.csv").read_text(encoding="utf-8") == (
        "supplier_org_no,reason\n")
    assert (DEFAULTS / "exchange_rates.csv").read_text(encoding="utf-8") == (
        "currency,month,rate_to_base\n")
