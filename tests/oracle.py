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
from stdnum.dk import cvr
from stdnum.fi import ytunnus
from stdnum.no import orgnr
from stdnum.se import orgnr as se_orgnr

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


def _org_no(raw: str | None, country: str = "NO") -> str | None:
    """A valid organisation number of the country in its compact form, else None."""
    text = re.sub(r"[\s.\-]", "", (raw or "").upper())
    if country == "NO":
        text = text.removeprefix("NO").removesuffix("MVA")
        return text if orgnr.is_valid(text) else None
    if country == "DK":
        text = text.removeprefix("DK")
        return text if cvr.is_valid(text) else None
    if country == "SE":
        text = text.removeprefix("SE")
        text = text[:10] if len(text) == 12 and text.endswith("01") else text
        return text if se_orgnr.is_valid(text) else None
    if country == "FI":
        return ytunnus.compact(raw) if ytunnus.is_valid(raw or "") else None
    # GB: Companies House numbers have no check digit: 8 digits, or 2 letters and 6 digits
    return text if re.fullmatch(r"[0-9]{8}|[A-Z]{2}[0-9]{6}", text) else None


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


# --- how a source profile reads a file (data_contracts/profiles/README.md) -----------------

PLAUSIBLE_YEARS = range(1990, 2101)
# a date format's directives as regular expressions; `%-d` / `%-m`: one or two digits
_DATE_PARTS = {
    "%d": r"(?P<day>\d{2})",
    "%-d": r"(?P<day>\d{1,2})",
    "%m": r"(?P<month>\d{2})",
    "%-m": r"(?P<month>\d{1,2})",
    "%Y": r"(?P<year>\d{4})",
}


def _profile(root: Path, reference: str) -> dict:
    """A profile by name (data_contracts/profiles) or as a path beside cooperation.yml, with
    its art mapping file read."""
    named = reference.endswith((".yaml", ".yml"))
    path = root / reference if named else PROFILES / f"{reference}.yaml"
    profile = _yaml(path)
    profile["_path"] = path
    mapping = (profile.get("art") or {}).get("account_mapping")
    if mapping:
        profile["_mapping"] = _csv_rows(path.parent / mapping)
    return profile


def _parse_day(text: str, fmt: str) -> date | None:
    if "%-" not in fmt:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            return None
    pattern = "".join(
        _DATE_PARTS.get(token, re.escape(token)) for token in re.findall(r"%-?.|[^%]+", fmt)
    )
    found = re.fullmatch(pattern, text)
    if found is None:
        return None
    try:
        return date(int(found["year"]), int(found["month"]), int(found["day"]))
    except ValueError:
        return None


def _invoice_day(text: str | None, formats: list[str]) -> date | None:
    """The profile's formats, then ISO: the first that gives a plausible invoice date."""
    for fmt in [*formats, "%Y-%m-%d"]:
        day = _parse_day(text or "", fmt)
        if day is not None and day.year in PLAUSIBLE_YEARS:
            return day
    return None


def _number(text: str | None, dialect: dict) -> Decimal | None:
    if text is None:
        return None
    if dialect.get("thousands"):
        text = text.replace(dialect["thousands"], "")
    text = re.sub(r"[\s\u00a0\u202f]", "", text).replace(dialect.get("decimal", "."), ".")
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _folded(text: str | None) -> str:
    return " ".join((text or "").split()).lower()


def _excluded(column, entries: list[dict]) -> bool:
    """Whether one of the profile's exclude_rows entries holds for the row (all of its
    conditions: equals / one_of / not_one_of ignore case, matches searches, empty)."""

    def holds(condition: dict) -> bool:
        text = column(condition["column"])
        if "empty" in condition:
            return (text is None) == condition["empty"]
        if "matches" in condition:
            return re.search(condition["matches"], text or "") is not None
        if "equals" in condition:
            return text is not None and text.lower() == condition["equals"].strip().lower()
        listed = {v.strip().lower() for v in condition.get("one_of") or condition["not_one_of"]}
        inside = text is not None and text.lower() in listed
        return inside if "one_of" in condition else not inside

    return any(all(holds(c) for c in entry.get("all") or [entry]) for entry in entries)


def _art(profile: dict, value, column, country: str) -> str | None:
    rule = profile.get("art") or {}
    art = None
    if "column" in rule:
        art = column(rule["column"])
    elif "from_account" in rule:
        start = rule["from_account"]["start"]
        length = rule["from_account"].get("length", 3)
        art = (value("account") or "")[start - 1 : start - 1 + length] or None
    elif "account_mapping" in rule:
        art = _mapped_art(profile["_mapping"], value, country)
    return art if art is not None else rule.get("default")


def _mapped_art(rows: list[dict], value, country: str) -> str | None:
    """The mapping row that fits the line best: an exact account beats any prefix (`12*`),
    a longer prefix a shorter one, any account a supplier-only row; among rows of the same
    account, one that names the line's supplier (name or number, any case) wins."""
    account = value("account")
    names = {_folded(value("supplier_name")), _folded(value("supplier_org_no"))} - {""}
    number = _org_no(value("supplier_org_no"), country)
    best: tuple[tuple[int, int, int], str] | None = None
    for row in rows:
        code, supplier = (row.get("account") or "").strip(), (row.get("supplier") or "").strip()
        if not code:
            rank = (0, 0)
        elif code.endswith("*"):
            if account is None or not account.startswith(code[:-1]):
                continue
            rank = (1, len(code) - 1)
        elif account == code:
            rank = (2, len(code))
        else:
            continue
        if (
            supplier
            and _folded(supplier) not in names
            and (number is None or _org_no(supplier, country) != number)
        ):
            continue
        candidate = ((*rank, 1 if supplier else 0), row["art"].strip())
        if best is None or candidate[0] > best[0]:
            best = candidate
    return best[1] if best else None


# --- suppliers: BRIEF §4 rule 5's identity --------------------------------------------------

# legal forms left out of a supplier name (at the end, and at the start: "Oy Nokia"), as tokens
# of the folded name; "A/S" folds to the tokens "a s"
LEGAL_FORMS = ("as", "asa", "a s", "aps", "ab", "oy", "oyj", "ltd", "limited", "plc")


def fold_name(name: str | None) -> str | None:
    """A supplier name as a key: lower case, '&' read as 'and', every run of characters that
    are not letters or digits one space, and the legal forms left out at both ends (never
    the last word left). None when nothing is left."""
    text = (name or "").lower().replace("&", " and ")
    words = "".join(c if c.isalnum() else " " for c in text).split()
    forms = [tuple(form.split()) for form in LEGAL_FORMS]
    for at_end in (True, False):
        while True:
            form = next(
                (
                    f
                    for f in forms
                    if len(words) > len(f)
                    and tuple(words[-len(f) :] if at_end else words[: len(f)]) == f
                ),
                None,
            )
            if form is None:
                break
            words = words[: -len(form)] if at_end else words[len(form) :]
    return " ".join(words) or None


@dataclass
class Line:
    municipality_id: str
    day: date
    amount: Decimal  # in the cooperation's currency
    org_no: str | None
    art: str | None
    item_code: str | None
    supplier_name: str | None = None
    local_supplier_id: str | None = None


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
        self.country = str(self.config["cooperation"]["country"])
        self.members = [str(m["id"]) for m in self.config["municipalities"]]
        self.rates = {
            (r["currency"], r["month"]): Decimal(r["rate_to_base"])
            for r in _csv_rows(self._reference("exchange_rates"))
        }
        arts = _csv_rows(self._reference("kostra_arts"))
        self.known_arts = {r["art"] for r in arts}
        self.influenceable_arts = {r["art"] for r in arts if r["is_influenceable"] == "true"}
        self._read_supplier_register()
        self.excluded = {
            self.named_supplier(r["supplier_org_no"])
            for r in _csv_rows(self._reference("excluded_suppliers"))
        } - {None}
        rules = _csv_rows(self._reference("classification_rules"))
        self.item_rules = [
            (r["pattern"].replace(" ", "").split("-")[0], r["category_id"])
            for r in rules
            if r["rule_type"] == "item_code"
        ]
        self.item_rules.sort(key=lambda rule: -len(rule[0]))
        self.supplier_rules: dict[str, str] = {}
        for r in sorted(rules, key=lambda r: r["category_id"]):  # twice: the lowest category
            if r["rule_type"] == "supplier" and self.named_supplier(r["pattern"]) is not None:
                self.supplier_rules.setdefault(self.named_supplier(r["pattern"]), r["category_id"])
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
        self.excluded_lines = 0
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
                            {self.named_supplier(s) for s in r["supplier_org_nos"].split(";")}
                            - {None},
                            set(self.members) if "*" in split else set(split),
                            date.fromisoformat(r["valid_from"]),
                            date.fromisoformat(r["valid_to"]),
                        )
                    )
        return agreements

    # --- the supplier register (rule 5) --------------------------------------------------
    def _read_supplier_register(self) -> None:
        """supplier_id -> (name, organisation number), and the aliases by type."""
        self.register: dict[str, tuple[str | None, str | None]] = {}
        self.local_aliases: dict[tuple[str, str | None], str] = {}  # (vendor no, member)
        self.name_aliases: dict[str, str] = {}  # folded name -> supplier_id
        self.pattern_aliases: list[tuple[re.Pattern, str]] = []
        for entry in self.config.get("supplier_registers") or []:
            for path in sorted(glob.glob(str(self.root / entry["path"]))):
                for r in _csv_rows(Path(path)):
                    sid = r["supplier_id"].strip()
                    name, number = self.register.get(sid, (None, None))
                    self.register[sid] = (
                        name or (r["supplier_name"] or "").strip() or None,
                        number or _org_no(r["org_no"], self.country),
                    )
                    kind, alias = (r["alias_type"] or "").strip(), (r["alias"] or "").strip()
                    if kind == "local_id":
                        member = (r["municipality_id"] or "").strip() or None
                        self.local_aliases[(alias, member)] = sid
                    elif kind == "name":
                        self.name_aliases[fold_name(alias)] = sid
                    elif kind == "name_pattern":
                        self.pattern_aliases.append((re.compile(alias, re.IGNORECASE), sid))
        self._identities: dict[tuple, tuple[str, bool]] = {}

    def _register_key(self, supplier_id: str) -> str:
        return self.register[supplier_id][1] or f"register:{supplier_id}"

    def named_supplier(self, reference: str | None) -> str | None:
        """The supplier an agreement, rule or exclusion names: a supplier_id of the register,
        or a valid organisation number; None when it is neither."""
        reference = (reference or "").strip()
        if reference in self.register:
            return self._register_key(reference)
        return _org_no(reference, self.country)

    def identity(self, line: Line) -> tuple[str, bool]:
        """(supplier key, identified): the valid organisation number; else the register's
        supplier by the line's own vendor number (the member's alias first), by its folded
        name, or by the one supplier whose name patterns match; else 'name:' + folded name."""
        key = (line.municipality_id, line.org_no, line.local_supplier_id, line.supplier_name)
        if key not in self._identities:
            self._identities[key] = self._resolve(line)
        return self._identities[key]

    def _resolve(self, line: Line) -> tuple[str, bool]:
        if line.org_no is not None:
            return line.org_no, True
        local = line.local_supplier_id
        supplier_id = (
            self.local_aliases.get((local, line.municipality_id))
            or self.local_aliases.get((local, None))
            if local
            else None
        )
        folded = fold_name(line.supplier_name)
        if supplier_id is None and folded is not None:
            supplier_id = self.name_aliases.get(folded)
        if supplier_id is None and line.supplier_name:
            found = {
                sid for pattern, sid in self.pattern_aliases if pattern.search(line.supplier_name)
            }
            supplier_id = found.pop() if len(found) == 1 else None
        if supplier_id is not None:
            return self._register_key(supplier_id), True
        return "name:" + (folded or ""), False

    def identified(self, line: Line) -> str | None:
        """The line's supplier where it is identified (rule 5), else None."""
        key, identified = self.identity(line)
        return key if identified else None

    # --- reading the deliveries with each profile ----------------------------------------
    def _lines(self):
        for member in self.config["municipalities"]:
            for entry in member.get("spend") or []:
                profile = _profile(self.root, entry["profile"])
                for path in sorted(glob.glob(str(self.root / entry["path"]))):
                    yield from self._read(Path(path), str(member["id"]), profile)

    def _read(self, path: Path, member_id: str, profile: dict):
        if profile.get("format", "csv") != "csv":
            raise NotImplementedError(f"the oracle reads csv profiles only: {profile['_path']}")
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
            for _ in range(dialect.get("header_row", 1) - 1):
                next(reader)
            header = [h.strip() for h in next(reader)]
            for record in reader:
                if not record:
                    continue
                if len(record) != len(header):
                    self.rejected_lines += 1  # a row that does not split into the header
                    continue
                row = dict(zip(header, record, strict=True))

                def column(spec, row=row) -> str | None:
                    """A column, or the first of a list of alternatives the file has."""
                    names = spec if isinstance(spec, list) else [spec]
                    name = next((n for n in names if n in row), None)
                    return None if name is None else (row[name] or "").strip() or None

                def value(field: str, column=column) -> str | None:
                    spec = fields.get(field)
                    if spec is None:
                        return None
                    if "constant" in spec:
                        return str(spec["constant"]).strip() or None
                    if "concat" in spec:
                        parts = [column(c) for c in spec["concat"]]
                        joined = spec.get("separator", "-").join(p for p in parts if p)
                        return joined or None
                    return column(spec["column"])

                if _excluded(column, profile.get("exclude_rows") or []):
                    self.excluded_lines += 1  # left out on purpose, with a reason: not spend
                    continue
                line = self._line(value, column, member_id, profile, dialect)
                if line is None:
                    self.rejected_lines += 1
                else:
                    yield line

    def _line(self, value, column, member_id: str, profile: dict, dialect: dict) -> Line | None:
        day = _invoice_day(value("invoice_date"), dialect.get("date_formats", ["%Y-%m-%d"]))
        amount = _number(value("amount_excl_vat"), dialect)
        if amount is None:
            return None
        rule = profile.get("amount") or {}
        if "vat_column" in rule:
            vat_text = column(rule["vat_column"])
            vat = _number(vat_text, dialect)
            if vat_text is not None and vat is None:
                return None  # rejected: the VAT is not a number
            amount -= vat or Decimal(0)
        if "sign_column" in rule:
            negative = {str(v).upper() for v in rule["negative_values"]}
            if (column(rule["sign_column"]) or "").upper() in negative:
                amount = -amount
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
        country = profile.get("country") or self.country
        art = _art(profile, value, column, country)
        item = value("item_code")
        return Line(
            member_id,
            day,
            amount,
            _org_no(value("supplier_org_no"), country),
            art,
            item.replace(" ", "").split("-")[0] if item else None,
            value("supplier_name"),
            local_supplier_id=value("local_supplier_id"),
        )

    # --- the rules -------------------------------------------------------------------------
    def category(self, line: Line) -> str:
        if line.item_code:
            for pattern, category in self.item_rules:
                if line.item_code.startswith(pattern):
                    return category
        if self.identified(line) in self.supplier_rules:
            return self.supplier_rules[self.identified(line)]
        if line.art in self.art_rules:
            return self.art_rules[line.art]
        return "unclassified"

    def figures(self, line: Line) -> dict[str, Decimal]:
        amount, zero = line.amount, Decimal(0)
        supplier = self.identified(line)  # None: never excluded, classified or on agreement
        influenceable = line.art in self.influenceable_arts and (
            supplier is None or supplier not in self.excluded
        )
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
            covered and supplier is not None and any(supplier in a.suppliers for a in active)
        )
        result["covered_spend"] = amount if covered else zero
        result["on_agreement_spend"] = amount if on_agreement else zero
        for scope, prefix in zip(SCOPES, ("national", "shared", "local"), strict=True):
            scoped = [a for a in active if a.scope == scope]
            result[f"{prefix}_covered_spend"] = amount if scoped else zero
            result[f"{prefix}_on_agreement_spend"] = (
                amount if supplier and any(supplier in a.suppliers for a in scoped) else zero
            )
        holds_agreement = supplier is not None and any(
            supplier in a.suppliers
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
    def supplier_key(self, line: Line) -> str:
        """The supplier's identity (rule 5), else 'name:' + the folded name."""
        return self.identity(line)[0]

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
