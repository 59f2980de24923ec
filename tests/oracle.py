"""An independent implementation of BRIEF §4 rules 1-10 in plain Python.

It shares no code with the pipeline: it reads cooperation.yml, the source profiles
and the delivered files itself, and computes the KPI tables line by line with
Decimal. The end-to-end test compares the warehouse's marts with these numbers.
"""

from __future__ import annotations

import csv
import glob
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import yaml
from stdnum.no import orgnr

ROOT = Path(__file__).resolve().parents[1]
# the reference files that ship with the project (dbt seeds; older trees: reference_defaults)
DEFAULTS = (ROOT / "dbt_project" / "seeds", ROOT / "pipelines" / "reference_defaults")
PROFILES = ROOT / "data_contracts" / "profiles"
SCOPES = ("national", "cooperation", "local")
# BRIEF §3: procurement thresholds per country when cooperation.yml sets none
DEFAULT_THRESHOLDS = {"NO": (100_000, 1_300_000, 2_300_000)}


class _Yaml12(yaml.SafeLoader):
    """`NO` is Norway, not false."""


_Yaml12.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _yaml(path: Path) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Yaml12)  # noqa: S506


def _org_no(raw: str | None) -> str | None:
    text = re.sub(r"[\s.\-]", "", (raw or "").upper())
    text = text.removeprefix("NO").removesuffix("MVA")
    return text if orgnr.is_valid(text) else None


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@dataclass
class Line:
    municipality_id: str
    day: date
    amount: Decimal  # in the cooperation's currency
    org_no: str | None
    art: str | None
    item_code: str | None
    supplier_name: str | None = None


@dataclass
class Agreement:
    agreement_id: str
    scope: str
    categories: set[str]
    suppliers: set[str]
    participants: set[str]
    valid_from: date
    valid_to: date


class Oracle:
    def __init__(self, config_path: Path):
        self.config_path = config_path
        self.root = config_path.parent
        self.config = _yaml(config_path)
        self.currency = self.config["cooperation"]["currency"]
        self.members = [str(m["id"]) for m in self.config["municipalities"]]
        self.rates = {
            (r["currency"], r["month"]): Decimal(r["rate_to_base"])
            for r in _csv_rows(self._reference("exchange_rates"))
        }
        arts = _csv_rows(self._reference("kostra_arts"))
        self.known_arts = {r["art"] for r in arts}
        self.influenceable_arts = {r["art"] for r in arts if r["is_influenceable"] == "true"}
        self.excluded = {
            _org_no(r["supplier_org_no"]) for r in _csv_rows(self._reference("excluded_suppliers"))
        } - {None}
        rules = _csv_rows(self._reference("classification_rules"))
        self.item_rules = [
            (r["pattern"].replace(" ", "").split("-")[0], r["category_id"])
            for r in rules
            if r["rule_type"] == "item_code"
        ]
        self.item_rules.sort(key=lambda rule: -len(rule[0]))
        self.supplier_rules = {
            _org_no(r["pattern"]): r["category_id"] for r in rules if r["rule_type"] == "supplier"
        }
        self.art_rules = {r["pattern"]: r["category_id"] for r in rules if r["rule_type"] == "art"}
        self.agreements = self._agreements()
        cooperation = self.config["cooperation"]
        configured = cooperation.get("thresholds")
        self.thresholds = (
            sorted(Decimal(t) for t in configured)
            if configured is not None
            else [Decimal(t) for t in DEFAULT_THRESHOLDS.get(str(cooperation["country"]), ())]
        )
        self.rejected_lines = 0
        self.lines = list(self._lines())

    def _reference(self, name: str) -> Path:
        configured = (self.config.get("reference") or {}).get(name)
        if configured:
            return self.root / configured
        shipped = [folder / f"{name}.csv" for folder in DEFAULTS]
        return next((path for path in shipped if path.exists()), shipped[0])

    def _agreements(self) -> list[Agreement]:
        agreements = []
        for entry in self.config["agreements"]:
            for path in sorted(glob.glob(str(self.root / entry["path"]))):
                for r in _csv_rows(Path(path)):
                    split = [x.strip() for x in r["participants"].split(";") if x.strip()]
                    agreements.append(
                        Agreement(
                            r["agreement_id"],
                            r["scope"],
                            {c.strip() for c in r["category_ids"].split(";") if c.strip()},
                            {_org_no(s) for s in r["supplier_org_nos"].split(";")} - {None},
                            set(self.members) if "*" in split else set(split),
                            date.fromisoformat(r["valid_from"]),
                            date.fromisoformat(r["valid_to"]),
                        )
                    )
        return agreements

    # --- reading the deliveries with each profile ----------------------------------------
    def _lines(self):
        for member in self.config["municipalities"]:
            for entry in member.get("spend") or []:
                profile = _yaml(PROFILES / f"{entry['profile']}.yaml")
                for path in sorted(glob.glob(str(self.root / entry["path"]))):
                    yield from self._read(Path(path), str(member["id"]), profile)

    def _read(self, path: Path, member_id: str, profile: dict):
        dialect = profile.get("csv") or {}
        encoding = dialect.get("encoding", "utf-8")
        encoding = "utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding
        fields = profile["fields"]
        with open(path, encoding=encoding, newline="") as handle:
            reader = csv.reader(
                handle,
                delimiter=dialect.get("delimiter", ","),
                quotechar=dialect.get("quotechar", '"'),
            )
            header = [h.strip() for h in next(reader)]
            for record in reader:
                if not record:
                    continue
                row = dict(zip(header, record, strict=False))

                def value(field: str, row=row) -> str | None:
                    spec = fields.get(field)
                    if spec is None:
                        return None
                    text = spec["constant"] if "constant" in spec else row.get(spec["column"], "")
                    return (text or "").strip() or None

                def column(name: str, row=row) -> str | None:
                    return (row.get(name) or "").strip() or None

                line = self._line(value, column, member_id, profile, dialect)
                if line is None:
                    self.rejected_lines += 1
                else:
                    yield line

    def _line(self, value, column, member_id: str, profile: dict, dialect: dict) -> Line | None:
        day = None
        for fmt in dialect.get("date_formats", ["%Y-%m-%d"]):
            try:
                day = datetime.strptime(value("invoice_date") or "", fmt).date()
                break
            except ValueError:
                continue
        amount_text = value("amount_excl_vat") or ""
        if dialect.get("thousands"):
            amount_text = amount_text.replace(dialect["thousands"], "")
        amount_text = amount_text.replace(" ", "").replace(dialect.get("decimal", "."), ".")
        try:
            amount = Decimal(amount_text)
        except InvalidOperation:
            return None
        if day is None or value("invoice_id") is None:
            return None
        if (value("municipality_id") or member_id) != member_id:
            return None
        currency = (value("currency") or profile.get("currency") or self.currency).upper()
        if currency != self.currency:
            rate = self.rates.get((currency, f"{day:%Y-%m}"))
            if rate is None:
                return None  # rejected: no exchange rate for the invoice month
            amount = (amount * rate).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        art_rule = profile.get("art") or {}
        if "column" in art_rule:
            art = column(art_rule["column"])
        else:
            account = value("account") or ""
            start = art_rule["from_account"]["start"]
            length = art_rule["from_account"].get("length", 3)
            art = account[start - 1 : start - 1 + length] or None
        item = value("item_code")
        return Line(
            member_id,
            day,
            amount,
            _org_no(value("supplier_org_no")),
            art,
            item.replace(" ", "").split("-")[0] if item else None,
            value("supplier_name"),
        )

    # --- the rules -------------------------------------------------------------------------
    def category(self, line: Line) -> str:
        if line.item_code:
            for pattern, category in self.item_rules:
                if line.item_code.startswith(pattern):
                    return category
        if line.org_no in self.supplier_rules:
            return self.supplier_rules[line.org_no]
        if line.art in self.art_rules:
            return self.art_rules[line.art]
        return "unclassified"

    def figures(self, line: Line) -> dict[str, Decimal]:
        amount, zero = line.amount, Decimal(0)
        influenceable = line.art in self.influenceable_arts and line.org_no not in self.excluded
        result = {"total_spend": amount, "influenceable_spend": zero}
        if not influenceable:
            return result
        category = self.category(line)
        result["influenceable_spend"] = amount
        result["unclassified_spend"] = amount if category == "unclassified" else zero
        active = [
            a
            for a in self.agreements
            if category in a.categories
            and line.municipality_id in a.participants
            and a.valid_from <= line.day <= a.valid_to
        ]
        covered = bool(active)
        on_agreement = (
            covered and line.org_no is not None and any(line.org_no in a.suppliers for a in active)
        )
        result["covered_spend"] = amount if covered else zero
        result["on_agreement_spend"] = amount if on_agreement else zero
        for scope, prefix in zip(SCOPES, ("national", "shared", "local"), strict=True):
            scoped = [a for a in active if a.scope == scope]
            result[f"{prefix}_covered_spend"] = amount if scoped else zero
            result[f"{prefix}_on_agreement_spend"] = (
                amount if line.org_no and any(line.org_no in a.suppliers for a in scoped) else zero
            )
        holds_agreement = line.org_no is not None and any(
            line.org_no in a.suppliers
            and line.municipality_id in a.participants
            and a.valid_from <= line.day <= a.valid_to
            for a in self.agreements
        )
        result["supplier_agreement_spend"] = amount if holds_agreement else zero
        result["_category"] = category
        return result

    def municipality_kpis(self) -> dict[tuple[str, int], dict]:
        sums: dict[tuple[str, int], dict] = defaultdict(lambda: defaultdict(Decimal))
        for line in self.lines:
            figures = self.figures(line)
            figures.pop("_category", None)
            for key in ((line.municipality_id, line.day.year), ("ALL", line.day.year)):
                for name, amount in figures.items():
                    sums[key][name] += amount
        return {key: _with_ratios(values) for key, values in sums.items()}

    def category_kpis(self) -> dict[tuple[str, int, str], dict]:
        sums: dict[tuple[str, int, str], dict] = defaultdict(lambda: defaultdict(Decimal))
        for line in self.lines:
            figures = self.figures(line)
            category = figures.pop("_category", None)
            if category is None:
                continue
            for muni in (line.municipality_id, "ALL"):
                for name in ("influenceable_spend", "covered_spend", "on_agreement_spend"):
                    sums[(muni, line.day.year, category)][name] += figures[name]
        return {key: _with_ratios(values) for key, values in sums.items()}

    # --- rule 9 --------------------------------------------------------------------------
    @staticmethod
    def supplier_key(line: Line) -> str:
        """The validated organisation number, else 'name:' + the normalised name."""
        if line.org_no is not None:
            return line.org_no
        return "name:" + re.sub(r"\s+", " ", line.supplier_name or "").strip().lower()

    def threshold_flags(self) -> dict[tuple[str, str, str, date, Decimal], dict]:
        """One entry per upward crossing of a threshold by the trailing 12-month sum of
        influenceable spend not on agreement, per member, supplier_key and category.

        Month ends run from the first to the last month with a line in the data; the
        sum at a month end covers that month and the 11 before it (calendar months).
        """
        if not self.lines:
            return {}
        monthly: dict[tuple[str, str, str], dict[int, Decimal]] = defaultdict(
            lambda: defaultdict(Decimal)
        )
        for line in self.lines:
            figures = self.figures(line)
            category = figures.get("_category")
            if category is None or figures["on_agreement_spend"] != 0:
                continue  # not influenceable, or on agreement
            month = line.day.year * 12 + line.day.month - 1
            monthly[(line.municipality_id, self.supplier_key(line), category)][month] += line.amount
        months = [line.day.year * 12 + line.day.month - 1 for line in self.lines]
        first, last = min(months), max(months)
        flags = {}
        for (member, supplier, category), amounts in monthly.items():

            def trailing(month: int, amounts=amounts) -> Decimal:
                return sum(
                    (amounts.get(m, Decimal(0)) for m in range(month - 11, month + 1)), Decimal(0)
                )

            for month in range(first, last + 1):
                now, before = trailing(month), trailing(month - 1)
                month_end = _month_end(month)
                for threshold in self.thresholds:
                    if now >= threshold > before:
                        flags[(member, supplier, category, month_end, threshold)] = {
                            "trailing_12m_spend": now,
                            "has_agreement_for_category": any(
                                category in a.categories
                                and member in a.participants
                                and a.valid_from <= month_end <= a.valid_to
                                for a in self.agreements
                            ),
                        }
        return flags


def _month_end(month: int) -> date:
    """The last day of month number `month` (year * 12 + month - 1)."""
    following = month + 1
    return date(following // 12, following % 12 + 1, 1) - timedelta(days=1)


def _ratio(numerator: Decimal, denominator: Decimal) -> float | None:
    return None if denominator == 0 else float(numerator / denominator)


def _with_ratios(values: dict) -> dict:
    v = dict(values)
    zero = Decimal(0)
    v["off_agreement_spend"] = v.get("covered_spend", zero) - v.get("on_agreement_spend", zero)
    v["coverage"] = _ratio(v.get("covered_spend", zero), v.get("influenceable_spend", zero))
    v["loyalty"] = _ratio(v.get("on_agreement_spend", zero), v.get("covered_spend", zero))
    if "shared_covered_spend" in v or "total_spend" in v:
        v["shared_coverage"] = _ratio(
            v.get("shared_covered_spend", zero), v.get("influenceable_spend", zero)
        )
        v["shared_loyalty"] = _ratio(
            v.get("shared_on_agreement_spend", zero), v.get("shared_covered_spend", zero)
        )
        v["supplier_loyalty"] = _ratio(
            v.get("supplier_agreement_spend", zero), v.get("influenceable_spend", zero)
        )
    return v
