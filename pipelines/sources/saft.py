"""Reader for Norwegian SAF-T Financial (v1.30, and the older v1.10 layout).

Streams the file once with lxml.iterparse, releasing every element once used (and, with
it, whatever came before it, unknown elements too), so memory stays flat for files of
hundreds of MB: it holds the accounts and suppliers, and one transaction (or other
container the scan stops at) at a time. In a folder delivery each file is streamed twice:
first checked whole, so that a broken file gives one error row and no postings. The
schema's order puts `MasterFiles` (accounts, suppliers) before `GeneralLedgerEntries`, so
postings are resolved as they stream by. Elements are matched by local name: v1.10/v1.30
files use the namespace `urn:StandardAuditFile-Taxation-Financial:NO` (default or
prefixed), some generated examples none at all. The XML safety rules are the EHF
reader's (no DOCTYPE, no entities, no network, `huge_tree=False`), with a larger size cap.

Which postings are spend (one record each, `document_type` 'posting'):

* **Expense rule** -- the line's account (from `MasterFiles/GeneralLedgerAccounts`) must
  be an expense account by `expense_rule(account)`. The default, `default_expense_rule`:
  accounts grouped by KOSTRA art (`GroupingCategory` KA_*; municipalities) are expenses
  when `kostra_expense` says so; any other account when `standard_chart_expense` says so
  (NS 4102 standard chart: classes 4-7 are costs). Pass your own rule for other charts.
* **Supplier rule** -- the line names a `SupplierID` itself, or else its `Transaction`
  names exactly one distinct `SupplierID` on any of its lines (the usual layout: the
  supplier sits on the accounts-payable line, the cost on the expense line). An expense
  line in a transaction without any supplier (payroll, depreciation, cash purchases,
  accruals) is not spend and is not emitted. An expense line without its own SupplierID in
  a transaction naming several suppliers is emitted as an error row (ambiguous), as is a
  line whose SupplierID is not in `MasterFiles/Suppliers` or whose amount is unreadable.

Field mapping: invoice_id = Transaction/TransactionID (the voucher; `SourceDocumentID` is
not unique across vouchers in practice), line_no = Line/RecordID, invoice_date =
Transaction/TransactionDate (the voucher's document date; Line/ValueDate, an interest
date, only when it is missing), account = Line/AccountID, art = the account's
GroupingCode as is, amount_excl_vat = DebitAmount/Amount - CreditAmount/Amount (always in
the header's DefaultCurrencyCode per the schema: a line's CurrencyCode belongs to its
CurrencyAmount, the foreign-currency figure), supplier_org_no/name = the supplier's
RegistrationNumber/Name, description = Line/Description (else the transaction's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
from lxml import etree

from pipelines.sources.csv_file import CsvHeader
from pipelines.sources.ehf import (
    COLUMNS,
    Record,
    XmlFileProblem,
    check_delivery,
    decimal_text,
    decimal_value,
    delivery_records,
    record_batches,
    root_element_name,
    safe_iterparse,
    shorten,
)

__all__ = [
    "COLUMNS",
    "MAX_FILE_BYTES",
    "Account",
    "ExpenseRule",
    "LedgerTotals",
    "XmlFileProblem",
    "default_expense_rule",
    "iter_batches",
    "kostra_expense",
    "ledger_totals",
    "read_header",
    "standard_chart_expense",
]

MAX_FILE_BYTES = 4 * 1024**3  # SAF-T files are streamed; this only bounds the work
SIZE_LIMIT = "the SAF-T reader's limit"  # MAX_FILE_BYTES, as messages name it
SAFT_NAMESPACE_PREFIX = "urn:StandardAuditFile-Taxation-Financial"
WHAT = "SAF-T Financial file"

_INDEX = {name: i for i, name in enumerate(COLUMNS)}
# The elements the scan stops at, each with the parent it is expected in. Matched elements
# are used (accounts, suppliers, transactions, currency, stated totals) and/or released
# to keep memory flat; the same names elsewhere (an Asset's Supplier, ...) are left alone.
_CONTAINERS: dict[str, frozenset[str]] = {
    name: frozenset(parents.split())
    for name, parents in {
        "DefaultCurrencyCode": "Header",
        "Account": "GeneralLedgerAccounts",
        "Customer": "Customers",
        "Supplier": "Suppliers",
        "TaxTableEntry": "TaxTable",
        "UOMTableEntry": "UOMTable",
        "AnalysisTypeTableEntry": "AnalysisTypeTable",
        "MovementTypeTableEntry": "MovementTypeTable",
        "Product": "Products",
        "PhysicalStockEntry": "PhysicalStock",
        "Owner": "Owners",
        "Asset": "Assets",
        "NumberOfEntries": "GeneralLedgerEntries",
        "TotalDebit": "GeneralLedgerEntries",
        "TotalCredit": "GeneralLedgerEntries",
        "Transaction": "Journal",
        "Journal": "GeneralLedgerEntries",
        "Invoice": "SalesInvoices PurchaseInvoices",
        "Payment": "Payments",
        "StockMovement": "MovementOfGoods",
        "AssetTransaction": "AssetTransactions",
    }.items()
}
_TAGS = [f"{{*}}{name}" for name in _CONTAINERS]


@dataclass(frozen=True)
class Account:
    """One `MasterFiles/GeneralLedgerAccounts/Account`, as the expense rule sees it."""

    account_id: str
    description: str | None = None
    account_type: str | None = None
    standard_account_id: str | None = None  # v1.10
    grouping_category: str | None = None  # v1.30: KA_K (KOSTRA art), RF-1167, ...
    grouping_code: str | None = None


ExpenseRule = Callable[[Account], bool]

# KOSTRA grouping codes of three digits that are balance-sheet lines, not arts.
KOSTRA_BALANCE_CODES = frozenset({"411", "412", "431", "451", "452", "453", "454", "580", "581"})
# Expense arts that are no purchase: compensable VAT (429, posted beside the net cost on
# every invoice voucher, would add VAT to spend) and the report control item (589).
KOSTRA_NOT_SPEND = frozenset({"429", "589"})


def standard_chart_expense(account: Account) -> bool:
    """NS 4102 standard chart: an account of type GL (or untyped) whose standard account
    (StandardAccountID, v1.10), RF-* grouping code (v1.30) or own AccountID starts 4-7."""
    if (account.account_type or "GL").upper() != "GL":
        return False
    code = account.standard_account_id
    if not code and (account.grouping_category or "").upper().startswith("RF-"):
        code = account.grouping_code
    code = (code or account.account_id or "").strip()
    return code[:1] in {"4", "5", "6", "7"}


def kostra_expense(account: Account) -> bool:
    """Municipal chart: the account's KOSTRA art (GroupingCode) is an expenditure art
    010-590, except balance-sheet codes, compensable VAT (429) and control items (589).
    Payroll, transfers and finance arts are included: whether a line is influenceable is
    the loader's decision, by art."""
    code = (account.grouping_code or "").strip()
    if len(code) != 3 or not code.isdigit():
        return False
    return (
        "010" <= code <= "590" and code not in KOSTRA_BALANCE_CODES and code not in KOSTRA_NOT_SPEND
    )


def default_expense_rule(account: Account) -> bool:
    if (account.grouping_category or "").upper().startswith("KA"):
        return kostra_expense(account)
    return standard_chart_expense(account)


@dataclass
class LedgerTotals:
    """What the file states about its GeneralLedgerEntries and what the reader counted
    over ALL lines (not only the emitted postings)."""

    stated_number_of_entries: int | None = None
    stated_total_debit: Decimal | None = None
    stated_total_credit: Decimal | None = None
    transactions: int = 0
    lines: int = 0
    total_debit: Decimal = Decimal(0)
    total_credit: Decimal = Decimal(0)
    unreadable_amounts: int = 0
    records: int = 0  # rows emitted, error rows included
    error_records: int = 0
    emitted_amount: Decimal = Decimal(0)  # sum of the emitted postings without error
    currency: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _release(element: etree._Element) -> None:
    """Free a processed element and everything before it among its siblings, and before
    each of its ancestors among theirs: finished sections (Header, MasterFiles) and any
    element the scan does not use (unknown ones too) between two that it does."""
    element.clear(keep_tail=False)
    node = element
    while (parent := node.getparent()) is not None:
        while node.getprevious() is not None:
            del parent[0]
        node = parent


def _local(tag: str) -> str:
    return tag[tag.rfind("}") + 1 :]


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    return " ".join(text.split()) or None


class _Fields:
    """An element's children by name (first occurrence), collected in one pass: much faster
    than one wildcard `find` per field on files with millions of lines. Children are taken
    to share their parent's namespace (or lack of one)."""

    __slots__ = ("children", "prefix")

    def __init__(self, element: etree._Element):
        tag = element.tag
        self.prefix = tag[: tag.rfind("}") + 1]
        children: dict[object, etree._Element] = {}
        for child in element:
            if child.tag not in children:
                children[child.tag] = child
        self.children = children

    def get(self, name: str) -> str | None:
        child = self.children.get(self.prefix + name)
        return None if child is None else _clean(child.text)

    def amount(self, name: str) -> str | None:
        """DebitAmount/CreditAmount -> its `Amount` (in the header's default currency)."""
        child = self.children.get(self.prefix + name)
        return None if child is None else _clean(child.findtext(self.prefix + "Amount"))


def _check_saft_file(path: Path) -> None:
    name = root_element_name(path, MAX_FILE_BYTES, SIZE_LIMIT)
    if name.localname != "AuditFile" or not (
        name.namespace is None or name.namespace.startswith(SAFT_NAMESPACE_PREFIX)
    ):
        shown = name.localname if not name.namespace else f"{name.localname} ({name.namespace})"
        raise XmlFileProblem(f"the root element is {shown}, not a SAF-T Financial AuditFile")


class _Scan:
    """One streaming pass over one file: yields records, fills `totals`."""

    def __init__(self, path: Path, expense_rule: ExpenseRule, totals: LedgerTotals):
        self.path = path
        self.rule = expense_rule
        self.totals = totals
        self.accounts: dict[str, Account] = {}
        self.expense: dict[str, bool] = {}
        self.suppliers: dict[str, tuple[str | None, str | None]] = {}

    def records(self) -> Iterator[Record]:
        _check_saft_file(self.path)
        events = safe_iterparse(self.path, ("end",), _TAGS, MAX_FILE_BYTES, SIZE_LIMIT)
        for _event, element in events:
            name = _local(element.tag)
            parent = element.getparent()
            if parent is None or _local(parent.tag) not in _CONTAINERS[name]:
                continue
            if name == "Transaction":
                yield from self._transaction(element)
            elif name == "Account":
                self._account(_Fields(element))
            elif name == "Supplier":
                self._supplier(_Fields(element))
            elif name == "DefaultCurrencyCode":
                self.totals.currency = _clean(element.text)
                continue
            elif name in ("NumberOfEntries", "TotalDebit", "TotalCredit"):
                self._stated(name, _clean(element.text) or "")
                continue
            _release(element)

    def _stated(self, name: str, text: str) -> None:
        try:
            if name == "NumberOfEntries":
                self.totals.stated_number_of_entries = int(text)
            elif name == "TotalDebit":
                self.totals.stated_total_debit = decimal_value(text)
            else:
                self.totals.stated_total_credit = decimal_value(text)
        except ValueError:
            self.totals.extra[name] = text

    def _account(self, fields: _Fields) -> None:
        account_id = fields.get("AccountID")
        if account_id is None:
            return
        account = Account(
            account_id=account_id,
            description=fields.get("AccountDescription"),
            account_type=fields.get("AccountType"),
            standard_account_id=fields.get("StandardAccountID"),
            grouping_category=fields.get("GroupingCategory"),
            grouping_code=fields.get("GroupingCode"),
        )
        self.accounts[account_id] = account
        self.expense[account_id] = bool(self.rule(account))

    def _supplier(self, fields: _Fields) -> None:
        supplier_id = fields.get("SupplierID")
        if supplier_id is not None:
            self.suppliers[supplier_id] = (fields.get("RegistrationNumber"), fields.get("Name"))

    def _is_expense(self, account_id: str | None) -> bool:
        if account_id is None:
            return False
        if account_id not in self.expense:  # posted to an account missing in MasterFiles
            self.expense[account_id] = bool(self.rule(Account(account_id)))
        return self.expense[account_id]

    def _transaction(self, transaction: etree._Element) -> Iterator[Record]:
        totals = self.totals
        totals.transactions += 1
        tag = transaction.tag
        lines = list(transaction.iterchildren(tag[: tag.rfind("}") + 1] + "Line"))
        readings: list[tuple[_Fields, Decimal | None, str | None]] = []
        supplier_ids: dict[str, None] = {}
        for line in lines:
            totals.lines += 1
            fields = _Fields(line)
            supplier_id = fields.get("SupplierID")
            if supplier_id:
                supplier_ids[supplier_id] = None
            try:
                debit = decimal_value(fields.amount("DebitAmount"))
                credit = decimal_value(fields.amount("CreditAmount"))
            except ValueError as problem:
                totals.unreadable_amounts += 1
                readings.append((fields, None, f"amount {problem}"))
                continue
            if debit is None and credit is None:
                readings.append((fields, None, "the line has neither DebitAmount nor CreditAmount"))
                continue
            debit = Decimal(0) if debit is None else debit
            credit = Decimal(0) if credit is None else credit
            totals.total_debit += debit
            totals.total_credit += credit
            readings.append((fields, debit - credit, None))
        if not supplier_ids:
            return
        header = _Fields(transaction)
        for line, (fields, amount, problem) in zip(lines, readings, strict=True):
            account_id = fields.get("AccountID")
            if not self._is_expense(account_id):
                continue
            record = self._record(line, fields, amount, problem, list(supplier_ids), header)
            totals.records += 1
            if record.error:
                totals.error_records += 1
            elif amount is not None:
                totals.emitted_amount += amount
            yield record

    def _record(
        self,
        line: etree._Element,
        fields: _Fields,
        amount: Decimal | None,
        problem: str | None,
        supplier_ids: list[str],
        header: _Fields,
    ) -> Record:
        transaction_id = header.get("TransactionID")
        record_id = fields.get("RecordID")
        account_id = fields.get("AccountID")
        supplier_id = fields.get("SupplierID")
        if supplier_id is None and len(supplier_ids) == 1:
            supplier_id = supplier_ids[0]
        org_no, name = self.suppliers.get(supplier_id or "", (None, None))
        account = self.accounts.get(account_id or "")
        date = header.get("TransactionDate") or fields.get("ValueDate")
        values: list[str | None] = [None] * len(COLUMNS)
        for column, value in (
            ("invoice_id", transaction_id),
            ("line_no", record_id),
            ("invoice_date", date[:10] if date else None),
            ("supplier_org_no", org_no),
            ("supplier_name", name),
            ("account", account_id),
            ("art", account.grouping_code if account else None),
            ("amount_excl_vat", None if amount is None else decimal_text(amount)),
            ("currency", self.totals.currency),
            ("description", fields.get("Description") or header.get("Description")),
            ("quantity", fields.get("Quantity")),
            ("document_type", "posting"),
        ):
            values[_INDEX[column]] = value
        where = f"transaction {transaction_id} line {record_id}"
        error = None
        if problem:
            error = f"{where}: {problem}"
        elif supplier_id is None:
            error = (
                f"{where}: expense posting without its own SupplierID in a transaction "
                f"naming several suppliers ({', '.join(supplier_ids)}); ambiguous"
            )
        elif supplier_id not in self.suppliers:
            error = f"{where}: SupplierID {supplier_id!r} is not in MasterFiles/Suppliers"
        if error is None:
            return Record(values, line=line.sourceline)
        return Record(
            values, error, self._render(line, transaction_id, supplier_ids), line.sourceline
        )

    def _render(
        self, line: etree._Element, transaction_id: str | None, supplier_ids: list[str]
    ) -> str:
        parts = [f"{self.path.name}", f"TransactionID={transaction_id}"]
        for leaf in line.iter():
            if isinstance(leaf.tag, str) and not len(leaf):
                text = " ".join((leaf.text or "").split())
                if text:
                    parent = leaf.getparent()
                    parts.append(
                        f"{_local(leaf.tag)}={text}"
                        if parent is line
                        else f"{_local(parent.tag)}/{_local(leaf.tag)}={text}"
                    )
        parts.append(f"transaction suppliers={','.join(supplier_ids)}")
        return shorten("; ".join(parts))


def _file_records(expense_rule: ExpenseRule, in_folder: bool) -> Callable[[Path], Iterator[Record]]:
    def read_file(path: Path) -> Iterator[Record]:
        if in_folder:
            # A broken file in a folder must become one error row, not some postings and
            # then an error: check the whole file before emitting anything from it.
            for _ in _Scan(path, expense_rule, LedgerTotals()).records():
                pass
        yield from _Scan(path, expense_rule, LedgerTotals()).records()

    return read_file


def read_header(path: Path, profile: object = None) -> CsvHeader:
    """Cheap sanity check: size, no DOCTYPE, root element AuditFile (reads the prolog only;
    a truncated file is found, and rejects the delivery, while iterating)."""
    return check_delivery(path, _check_saft_file, WHAT)


def iter_batches(
    path: Path,
    profile: object,
    header: CsvHeader,
    batch_rows: int = 100_000,
    *,
    expense_rule: ExpenseRule = default_expense_rule,
) -> Iterator[pa.Table]:
    """One row per supplier posting on an expense account (see the module docstring)."""
    records = delivery_records(path, _file_records(expense_rule, path.is_dir()), WHAT)
    yield from record_batches(records, batch_rows)


def ledger_totals(path: Path, expense_rule: ExpenseRule = default_expense_rule) -> LedgerTotals:
    """Stream one SAF-T file with the reader's own code and return its stated totals beside
    the debit/credit sums over all its lines and the sum of the postings it would emit."""
    if path.is_dir():
        raise ValueError(f"{path.name}: ledger_totals takes one SAF-T file, not a folder")
    totals = LedgerTotals()
    try:
        for _ in _Scan(path, expense_rule, totals).records():
            pass
    except XmlFileProblem as problem:
        raise XmlFileProblem(f"{path.name}: {problem}") from None
    return totals
