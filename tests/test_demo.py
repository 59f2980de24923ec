"""The demo generator (pipelines/demo.py) and the shipped reference defaults."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import tracemalloc
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
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
    PRICE_LIST_COLUMNS,
    PRICE_LIST_PATH,
    PRICED_AGREEMENTS,
    SPEND_COLUMNS,
    generate_demo,
)
from pipelines.settings import default_reference_file

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ROOT / "data_contracts" / "profiles"
KOSTRA_SOURCE = ROOT.parent / "shared" / "reference" / "kostra" / "KOSTRA_Arts_2024_kommuner.csv"

LINES = 6_000
SEED = 3
INFLUENCEABLE = {
    "100",
    "105",
    "110",
    "114",
    "115",
    "120",
    "130",
    "140",
    "150",
    "170",
    "180",
    "181",
    "182",
    "183",
    "184",
    "185",
    "195",
    "200",
    "209",
    "210",
    "220",
    "230",
    "240",
    "250",
    "260",
    "270",
    "370",
}
POPULATIONS = {"5035": 24050, "5032": 4096, "5033": 807, "5034": 2435, "5036": 2629, "5026": 2030}


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


@pytest.fixture(scope="session")  # once per worker, however xdist interleaves modules
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate_demo(out, seed=SEED, lines=LINES)
    return out


@pytest.fixture(scope="session")  # once per worker, however xdist interleaves modules
def spend(demo: Path) -> list[dict]:
    """Every spend line of the demo, read with its member's format, in standard fields."""
    lines = []
    for member in MEMBERS:
        files = sorted((demo / "spend" / member.id).glob("*.csv"))
        for path in files:
            if member.profile == "canonical":
                for row in _csv(path):
                    lines.append(
                        {**row, "file": path.name, "amount": float(row["amount_excl_vat"])}
                    )
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
        names = (
            "Bilagsnr",
            "Linje",
            "Fakturadato",
            "Orgnr",
            "Leverandør",
            "Konto",
            "Beløp eks mva",
            "Valuta",
            "Varekode",
            "Ansvar",
        )
        scheme = "CPV" if row["Varekode"] else ""
        art = row["Konto"][0:3]
    else:
        names = (
            "Fakturanr",
            "Linjenr",
            "Fakturadato",
            "Leverandørens orgnr",
            "Leverandørnavn",
            "Kontonr",
            "Nettobeløp",
            "Valutakode",
            "Varekode",
            "Ansvar",
        )
        scheme = row["Kodeverk"]
        art = row["Kontonr"][1:4]
    invoice_id, line_no, day, org_no, name, account, amount, currency, code, department = (
        row[n] for n in names
    )
    d, m, y = day.split(".")
    return {
        "municipality_id": member_id,
        "invoice_id": invoice_id,
        "line_no": line_no,
        "invoice_date": f"{y}-{m}-{d}",
        "supplier_org_no": org_no,
        "supplier_name": name,
        "account": account,
        "art": art,
        "amount_text": amount,
        "currency": currency,
        "item_code": code,
        "item_code_scheme": scheme,
        "department": department,
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
        f"# Demo data generated by samkjop demo --seed {SEED}\n"
    )
    config = _yaml(config_path)
    assert config["cooperation"] == {
        "name": "Værnesregionen innkjøp (demo)",
        "country": "NO",
        "currency": "NOK",
        "host": "5035",
        "targets": {"loyalty": 0.8},
        "price_tolerance": 0.02,
        # payroll postings carry these members' own numbers: listed, not paired as duplicates
        "catch_all_payees": ["^(stjørdal|selbu|frosta) kommune$"],
    }
    assert config["price_lists"] == [{"path": PRICE_LIST_PATH}]
    assert (demo / PRICE_LIST_PATH).is_file()
    assert config["warehouse"] == "warehouse/samkjop.duckdb"
    assert set(config["reference"]) == {
        "classification_rules",
        "exchange_rates",
        "excluded_suppliers",
    }
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
        amount = ERP_COLUMNS[profile].index(
            "Beløp eks mva" if member_id == "5032" else "Nettobeløp"
        )
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
    canonical = [
        line for line in spend if line["municipality_id"] in ("5035", "5033", "5036", "5026")
    ]
    for line in canonical:
        assert None not in line and None not in line.values(), line  # every field, no more
        assert re.fullmatch(r"-?\d+\.\d{2}", line["amount_excl_vat"])
        date.fromisoformat(line["invoice_date"])
        assert line["art"] == "" or re.fullmatch(r"\d{3}", line["art"])
        assert line["account"].startswith(line["art"])
    tydal = {line["currency"] for line in canonical if line["municipality_id"] == "5033"}
    assert "" in tydal  # Tydal leaves the currency empty for NOK


def test_invoices_are_unique_per_member_and_file_with_numbered_lines(spend: list[dict]):
    invoices: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for line in spend:
        invoices[(line["municipality_id"], line["file"], line["invoice_id"])].append(line)
    sizes = Counter()
    for lines in invoices.values():
        assert sorted(int(line["line_no"]) for line in lines) == list(range(1, len(lines) + 1))
        assert len({line["invoice_date"] for line in lines}) == 1
        assert len({line["supplier_org_no"] for line in lines}) == 1
        assert len({line.get("department") for line in lines}) == 1  # one ansvar per invoice
        sizes[len(lines) > 1] += 1
    assert sizes[True] > 0.2 * sum(sizes.values())  # many invoices have several lines
    files = Counter((member, invoice) for member, _, invoice in invoices)
    assert max(files.values()) <= 2  # in two files only when delivered again


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
    assert any(
        line["currency"] == missing_currency and line["invoice_date"][:7] == missing_month
        for line in spend
    )
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
    assert any(
        len(r["supplier_org_nos"].split(";")) >= 3 and r["scope"] == "cooperation" for r in rows
    )
    assert any(len(r["category_ids"].split(";")) > 1 for r in rows)
    assert any(r["scope"] == "cooperation" and r["valid_to"] == "2024-08-31" for r in rows)
    assert any(r["scope"] == "cooperation" and r["valid_from"] == "2025-03-01" for r in rows)
    partial = [
        r["participants"].split(";")
        for r in rows
        if r["scope"] == "cooperation" and r["participants"] != "*"
    ]
    assert partial and all(3 <= len(p) <= 4 for p in partial)
    assert all(len(r["participants"].split(";")) == 1 for r in rows if r["scope"] == "local")
    assert "0.0225" in {r["provision_rate"] for r in rows}
    by_scope = defaultdict(set)
    for r in rows:
        by_scope[r["scope"]].update(r["category_ids"].split(";"))
    assert by_scope["local"] & by_scope["cooperation"]  # overlapping scopes
    leaves = {r["category_id"] for r in _csv(default_reference_file("taxonomy")) if r["parent_id"]}
    covered = set().union(*by_scope.values())
    assert covered <= leaves
    assert 2 <= len(leaves - covered) <= 8  # a few categories without any agreement


def test_loyalty_differs_between_members(demo: Path, spend: list[dict]):
    """On lines that the item code classifies, buying on agreement follows DEMO_LOYALTY."""
    assert DEMO_LOYALTY["5035"] - DEMO_LOYALTY["5036"] >= 0.3
    rules = sorted(
        (
            (r["pattern"], r["category_id"])
            for r in _csv(demo / "classification_rules.csv")
            if r["rule_type"] == "item_code"
        ),
        key=lambda rule: -len(rule[0]),
    )
    agreements = _csv(demo / "agreements.csv")
    covered, on = Counter(), Counter()
    for line in spend:
        if line["item_code_scheme"] != "CPV" or line["amount"] <= 0:
            continue
        code = line["item_code"].split("-")[0]
        category = next(c for p, c in rules if code.startswith(p))
        member, day = line["municipality_id"], line["invoice_date"]
        active = [
            a
            for a in agreements
            if category in a["category_ids"].split(";")
            and (a["participants"] == "*" or member in a["participants"].split(";"))
            and a["valid_from"] <= day <= a["valid_to"]
        ]
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
    defaults = default_reference_file("classification_rules").read_text(encoding="utf-8")
    rules_text = (demo / "classification_rules.csv").read_text(encoding="utf-8")
    assert rules_text.startswith(defaults)
    supplier_rules = [
        r for r in _csv(demo / "classification_rules.csv") if r["rule_type"] == "supplier"
    ]
    assert 25 <= len(supplier_rules) <= 40
    leaves = {r["category_id"] for r in _csv(default_reference_file("taxonomy")) if r["parent_id"]}
    assert all(orgnr.is_valid(r["pattern"]) and r["category_id"] in leaves for r in supplier_rules)
    excluded = _csv(demo / "excluded_suppliers.csv")
    assert len(excluded) >= 2
    assert all(orgnr.is_valid(r["supplier_org_no"]) and r["reason"] for r in excluded)


# --- departments, prices, duplicate invoices, agreement follow-up -------------------------

CANONICAL_MEMBERS = [m.id for m in MEMBERS if m.profile == "canonical"]


def test_every_line_has_a_department(spend: list[dict]):
    departments = defaultdict(Counter)
    for line in spend:
        assert re.fullmatch(r"\d{4}", line["department"]), line
        departments[line["municipality_id"]][line["department"]] += 1
    assert set(departments) == set(POPULATIONS)  # the ERP members' Ansvar too
    for member_id, counts in departments.items():
        assert 3 <= len(counts) <= 8, member_id
    assert {"2100", "2200", "3100", "3200"} <= set(departments["5035"])  # the host's units
    assert "2100" not in departments["5036"]


def test_department_names_are_documented(demo: Path, spend: list[dict]):
    text = (demo / "DEMO_DATA.md").read_text(encoding="utf-8")
    for code in {line["department"] for line in spend}:
        assert re.search(rf"\b{code} [A-ZÆØÅ]", text), code
    assert "ansvar" in text


def test_priced_lines_are_quantity_times_unit_price(spend: list[dict]):
    priced = [line for line in spend if line.get("seller_item_id")]
    assert priced
    for line in priced:
        assert line["municipality_id"] in CANONICAL_MEMBERS
        assert re.fullmatch(r"\d+(\.\d)?", line["quantity"]), line
        assert re.fullmatch(r"\d+\.\d{2}", line["unit_price"]), line
        assert Decimal(line["quantity"]) * Decimal(line["unit_price"]) == Decimal(
            line["amount_excl_vat"]
        ), line
        assert line["amount"] > 0
    for line in spend:
        if not line.get("seller_item_id") and line["municipality_id"] in CANONICAL_MEMBERS:
            assert line["quantity"] == line["unit_price"] == ""
    assert any("." in line["quantity"] for line in priced)  # sold per kg
    assert 0.02 < len(priced) / len(spend) < 0.4  # a part of the spend, not all of it


def test_price_list_covers_the_priced_items_and_some_lines_deviate(demo: Path, spend: list[dict]):
    path = demo / PRICE_LIST_PATH
    assert path.read_text(encoding="utf-8").split("\n", 1)[0] == ",".join(PRICE_LIST_COLUMNS)
    rows = _csv(path)
    agreements = {r["agreement_id"]: r for r in _csv(demo / "agreements.csv")}
    prices: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        agreement = agreements[r["agreement_id"]]
        assert r["agreement_id"] in PRICED_AGREEMENTS
        assert r["supplier_org_no"] in {
            _org_no(n) for n in agreement["supplier_org_nos"].split(";")
        }
        assert orgnr.is_valid(r["supplier_org_no"]) and r["currency"] == "NOK"
        assert re.fullmatch(r"\d+\.\d{2}", r["unit_price"]) and Decimal(r["unit_price"]) > 0
        assert agreement["valid_from"] <= r["valid_from"] <= r["valid_to"] <= agreement["valid_to"]
        prices[(r["supplier_org_no"], r["item_id"])].append(r)
    deviations = []
    for line in spend:
        if not line.get("seller_item_id"):
            continue
        key = (_org_no(line["supplier_org_no"]), line["seller_item_id"])
        (agreed,) = [
            r for r in prices[key] if r["valid_from"] <= line["invoice_date"] <= r["valid_to"]
        ]
        assert line["contract_ref"] in ("", agreed["agreement_id"])
        deviations.append(Decimal(line["unit_price"]) / Decimal(agreed["unit_price"]) - 1)
    at_price = sum(d == 0 for d in deviations)
    above = [d for d in deviations if d > Decimal("0.02")]
    below = [d for d in deviations if d < 0]
    assert at_price > 0.85 * len(deviations)
    assert above and len(above) < 0.1 * len(deviations)
    assert all(d <= Decimal("0.16") for d in above)
    assert below and all(d > Decimal("-0.04") for d in below)


def test_some_invoices_are_delivered_twice(spend: list[dict]):
    invoices: dict[tuple[str, str], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for line in spend:
        invoices[(line["municipality_id"], line["invoice_id"])][line["file"]].append(line)
    first_day = defaultdict(lambda: "9999")  # the earliest invoice date per file
    for line in spend:
        key = (line["municipality_id"], line["file"])
        first_day[key] = min(first_day[key], line["invoice_date"])
    resent = Counter()
    for (member_id, _), files in invoices.items():
        if len(files) == 1:
            continue
        original, again = sorted(files.values(), key=lambda lines: lines[0]["file"])
        strip = [{k: v for k, v in line.items() if k != "file"} for line in original]
        assert strip == [{k: v for k, v in line.items() if k != "file"} for line in again]
        day = original[0]["invoice_date"]
        assert again[0]["invoice_date"][:7] == day[:7]
        # the next month's file: its dates must not enclose the earlier file's
        assert day > first_day[(member_id, original[0]["file"])]
        resent[member_id] += 1
    assert set(resent) == set(POPULATIONS)
    assert all(n <= 3 for n in resent.values())


def test_some_invoices_are_sent_again_under_a_new_number(spend: list[dict]):
    invoices: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for line in spend:
        invoices[(line["municipality_id"], line["file"], line["invoice_id"])].append(line)

    def content(lines: list[dict]) -> tuple:
        return tuple(
            (
                line["line_no"],
                line["account"],
                line["amount"],
                line.get("description"),
                line.get("seller_item_id"),
            )
            for line in lines
        )

    seen: dict[tuple, list[tuple[str, str]]] = defaultdict(list)
    for (member_id, file, invoice_id), lines in invoices.items():
        if lines[0]["amount"] > 0 and lines[0]["supplier_org_no"]:
            seen[(member_id, file, lines[0]["supplier_org_no"], content(lines))].append(
                (lines[0]["invoice_date"], invoice_id)
            )
    doubles = Counter()
    for (member_id, *_), copies in seen.items():
        for (day, invoice), (day_again, invoice_again) in zip(copies, copies[1:], strict=False):
            gap = date.fromisoformat(day_again) - date.fromisoformat(day)
            if invoice != invoice_again and timedelta(0) < abs(gap) <= timedelta(days=7):
                doubles[member_id] += 1
    assert len(doubles) >= 5  # (nearly) every member: the month's line budget may not fit one
    assert sum(doubles.values()) >= 12


def test_agreements_have_volumes_provisions_and_some_expire_soon(demo: Path, spend: list[dict]):
    rows = _csv(demo / "agreements.csv")
    volumes = [r["estimated_annual_volume"] for r in rows]
    assert all(v == "" or re.fullmatch(r"[1-9]\d*", v) for v in volumes)
    assert sum(v != "" for v in volumes) > 0.8 * len(rows)  # most, not all
    assert "" in volumes
    assert {r["provision_rate"] for r in rows} == {"", "0.0225"}
    on_2025 = defaultdict(float)  # supplier spend per agreement in 2025, by number and member
    for r in rows:
        numbers = {_org_no(n) for n in r["supplier_org_nos"].split(";")}
        for line in spend:
            if (
                line["invoice_date"] >= "2025"
                and _org_no(line["supplier_org_no"]) in numbers
                and r["participants"] in ("*", line["municipality_id"])
            ):
                on_2025[r["agreement_id"]] += line["amount"]
    expiring = [
        r
        for r in rows
        if "2026-01-01" <= r["valid_to"] <= "2026-06-30" and on_2025[r["agreement_id"]] > 0
    ]
    assert len(expiring) >= 2
    # the estimate is of the order of the spend the generator produces on the agreement
    for r in rows:
        if (
            r["estimated_annual_volume"]
            and r["scope"] == "cooperation"
            and r["valid_from"] < "2025" < r["valid_to"]
            and r["participants"] == "*"
        ):
            ratio = on_2025[r["agreement_id"]] / float(r["estimated_annual_volume"])
            assert 0.3 < ratio < 3, (r["agreement_id"], ratio)


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
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(out), str(lines)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
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
CSV_KEYS = {
    "encoding",
    "delimiter",
    "quotechar",
    "decimal",
    "thousands",
    "header_row",
    "date_formats",
}


@pytest.mark.parametrize("name", ["canonical", "visma-csv-selbu", "erp-csv-meraker"])
def test_profiles_are_valid_yaml_with_the_documented_keys(name: str):
    profile = _yaml(PROFILES / f"{name}.yaml")
    assert profile["profile"] == name
    assert set(profile) <= PROFILE_KEYS and profile["format"] == "csv"
    assert set(profile["csv"]) <= CSV_KEYS
    assert profile["csv"]["header_row"] == 1
    for field_name, source in profile["fields"].items():
        assert field_name in SPEND_COLUMNS and field_name != "art"
        assert len(set(source) - {"optional"}) == 1 and set(source) <= {
            "column",
            "constant",
            "optional",
        }
        assert source.get("optional", "true") == "true"  # (this reader keeps booleans as text)
    columns = [s["column"] for s in profile["fields"].values() if "column" in s]
    if name == "canonical":
        assert profile["art"] == {"column": "art"}
        assert profile["csv"]["encoding"] == "utf-8" and profile["csv"]["delimiter"] == ","
        assert profile["csv"]["decimal"] == "." and profile["csv"]["date_formats"] == ["%Y-%m-%d"]
        assert columns == [c for c in SPEND_COLUMNS if c != "art"]
    else:
        assert profile["csv"] == {
            "encoding": "cp1252",
            "delimiter": ";",
            "quotechar": '"',
            "decimal": ",",
            "thousands": " ",
            "header_row": 1,
            "date_formats": ["%d.%m.%Y"],
        }
        assert profile["country"] == "NO" and profile["currency"] == "NOK"
        assert set(columns) <= set(ERP_COLUMNS[name])
        assert "art" not in columns and set(profile["art"]) == {"from_account"}
    from pipelines.profiles import load_profile

    assert load_profile(name, ROOT).name == name


def test_erp_profiles_read_the_art_where_the_demo_writes_it():
    selbu = _yaml(PROFILES / "visma-csv-selbu.yaml")["art"]["from_account"]
    meraker = _yaml(PROFILES / "erp-csv-meraker.yaml")["art"]["from_account"]
    assert ("11510"[selbu["start"] - 1 :][: selbu["length"]]) == "115"
    assert ("411510"[meraker["start"] - 1 :][: meraker["length"]]) == "115"


# --- the reference defaults ------------------------------------------------------------


def test_default_taxonomy_is_two_levels():
    rows = _csv(default_reference_file("taxonomy"))
    assert 30 <= len(rows) <= 50
    ids = [r["category_id"] for r in rows]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(\.[a-z_]+)?", i) for i in ids)
    groups = {r["category_id"] for r in rows if not r["parent_id"]}
    leaves = [r for r in rows if r["parent_id"]]
    assert 8 <= len(groups) <= 12
    assert all(
        r["parent_id"] in groups and r["category_id"].startswith(r["parent_id"] + ".")
        for r in leaves
    )
    assert groups == {r["parent_id"] for r in leaves}  # every group has leaves


def test_default_rules_point_to_leaves():
    leaves = {r["category_id"] for r in _csv(default_reference_file("taxonomy")) if r["parent_id"]}
    rules = _csv(default_reference_file("classification_rules"))
    assert {r["rule_type"] for r in rules} == {"item_code", "art"}  # no supplier rules
    assert all(r["category_id"] in leaves for r in rules)
    arts = {r["pattern"] for r in rules if r["rule_type"] == "art"}
    assert arts == INFLUENCEABLE
    patterns = [r["pattern"] for r in rules if r["rule_type"] == "item_code"]
    assert len(patterns) == len(set(patterns)) and all(p.isdigit() for p in patterns)
    prefixes = {
        "302": "it.hardware",
        "301": "kontor.rekvisita",
        "331": "helse.utstyr",
        "158": "mat.dagligvarer",
        "0913": "transport.drivstoff",
        "909": "renhold.tjenester",
        "45": "bygg.entreprise",
    }
    by_pattern = {r["pattern"]: r["category_id"] for r in rules if r["rule_type"] == "item_code"}
    assert all(by_pattern[p] == c for p, c in prefixes.items())
    with_code_rules = set(by_pattern.values())
    assert len(leaves - with_code_rules) <= 2


def test_default_kostra_arts_mark_the_influenceable_set():
    rows = _csv(default_reference_file("kostra_arts"))
    assert {r["art"] for r in rows if r["is_influenceable"] == "true"} == INFLUENCEABLE
    assert {r["is_influenceable"] for r in rows} == {"true", "false"}
    assert {"010", "190", "350", "375", "470", "590"} <= {r["art"] for r in rows}
    assert all(r["art_name"] == r["art_name"].strip() for r in rows)
    if KOSTRA_SOURCE.is_file():
        with open(KOSTRA_SOURCE, encoding="utf-8", newline="") as handle:
            source = [r["GroupingCode"].strip() for r in csv.DictReader(handle, delimiter=";")]
        assert [r["art"] for r in rows] == source


def test_default_exclusions_and_rates_are_empty():
    assert default_reference_file("excluded_suppliers").read_text(encoding="utf-8") == (
        "supplier_org_no,reason\n"
    )
    assert default_reference_file("exchange_rates").read_text(encoding="utf-8") == (
        "currency,month,rate_to_base\n"
    )


def test_every_standard_file_has_as_many_fields_as_its_header(demo: Path):
    """The agreement register, price list, supplier register and reference files are
    read by the platform's loaders and, in the benchmark, by DuckDB's CSV sniffer: a row
    short of a field reads as one column there."""
    standard = [path for path in demo.rglob("*.csv") if "spend" not in path.relative_to(demo).parts]
    assert any(path.name == "supplier_register.csv" for path in standard)
    for path in standard:
        with open(path, encoding="utf-8", newline="") as handle:
            header, *rows = list(csv.reader(handle))
        assert all(len(row) == len(header) for row in rows), path


def test_the_register_marks_a_sole_proprietorship_a_person(demo: Path, spend: list[dict]):
    """The demo's register marks one supplier is_person (issue 12 point 6): an ENK named
    after its owner, with a valid organisation number no spend line carries, and a small
    amount of spend, so that the council's pages and the report have a private person to
    keep unnamed."""
    with open(demo / "agreements" / "supplier_register.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    persons = [row for row in rows if row["is_person"] == "true"]
    assert [row["supplier_id"] for row in persons] == ["D-SNEKKER"]
    (person,) = persons
    assert person["supplier_name"] == "Snekker Ola Hegre"
    assert orgnr.is_valid(person["org_no"])
    assert all(row["org_no"] == "" for row in rows if row is not person)
    assert all(_org_no(line["supplier_org_no"]) != person["org_no"] for line in spend)
    own = [line for line in spend if line["supplier_name"] == person["supplier_name"]]
    total = sum(line["amount"] for line in spend)
    assert own and 0 < sum(line["amount"] for line in own) < total / 200
    text = (demo / "DEMO_DATA.md").read_text(encoding="utf-8")
    assert f'marks "{person["supplier_name"]}" a private' in text
    assert person["org_no"] in text  # the same seed, the same files: test_same_seed_...
