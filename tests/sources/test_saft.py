"""SAF-T Financial reader: both official examples, a municipal (KOSTRA) file, broken files.

The rule the reader applies by default, restated here for the independent XPath sums:

* expense account: AccountType is GL (or absent) and the first digit of its
  StandardAccountID (v1.10) -- else of its GroupingCode when GroupingCategory is RF-* --
  else of its AccountID is 4, 5, 6 or 7 (NS 4102: classes 4-7 are costs). Accounts with a
  KOSTRA GroupingCategory (KA_*) use the art instead (none in the official examples);
* supplier: the Line's own SupplierID, else the single distinct SupplierID of its
  Transaction's lines; no SupplierID in the transaction -> not spend.
* amount = DebitAmount/Amount - CreditAmount/Amount.
"""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from pipelines.sources import DeliveryRejected, saft
from pipelines.sources.csv_file import CsvHeader

REFERENCE = Path(os.environ.get("SAMKJOP_REFERENCE", "/work/shared/reference")) / "saf-t"
V110 = REFERENCE / "ExampleFile_SAF-T_Financial_888888888_20180228235959.xml"
V130 = REFERENCE / "SAF-T_Financial_1.3_example.xml"
EXAMPLES = [V110, V130]
HEADER = CsvHeader(list(saft.COLUMNS))


@pytest.fixture(autouse=True)
def _reference_files_present():
    """The official examples sit in ../shared/reference (CI has them): missing is a failure."""
    assert V110.exists(), f"official example files missing: {REFERENCE}"


def read(path: Path, batch_rows: int = 100_000, **options) -> list[dict]:
    header = saft.read_header(path, None)
    rows = []
    for table in saft.iter_batches(path, None, header, batch_rows, **options):
        for row in table.to_pylist():
            named = {name: row[f"c{i}"] for i, name in enumerate(saft.COLUMNS)}
            named.update({k: row[k] for k in ("_source_row", "_parse_error", "_raw_text")})
            rows.append(named)
    return rows


def local(name: str) -> str:
    """A namespace-agnostic XPath step (v1.10 is namespaced, the 1.3 example is not)."""
    return f"*[local-name()='{name}']"


def child_text(element, name: str) -> str:
    return element.xpath(f"normalize-space({local(name)})")


def xpath_expected(path: Path) -> tuple[int, Decimal]:
    """Records and their sum by the rule in the module docstring, with plain lxml XPath."""
    root = etree.parse(str(path)).getroot()
    accounts = root.xpath(
        f"{local('MasterFiles')}/{local('GeneralLedgerAccounts')}/{local('Account')}"
    )
    assert not [a for a in accounts if child_text(a, "GroupingCategory").startswith("KA")]
    expense = set()
    for account in accounts:
        code = child_text(account, "StandardAccountID")
        if not code and child_text(account, "GroupingCategory").startswith("RF-"):
            code = child_text(account, "GroupingCode")
        code = code or child_text(account, "AccountID")
        if child_text(account, "AccountType") in ("", "GL") and code[:1] in "4567" and code:
            expense.add(child_text(account, "AccountID"))
    count, total = 0, Decimal(0)
    transactions = root.xpath(
        f"{local('GeneralLedgerEntries')}/{local('Journal')}/{local('Transaction')}"
    )
    for transaction in transactions:
        lines = transaction.xpath(local("Line"))
        suppliers = {child_text(line, "SupplierID") for line in lines} - {""}
        for line in lines:
            own = child_text(line, "SupplierID")
            if child_text(line, "AccountID") in expense and (own or len(suppliers) == 1):
                debit = line.xpath(f"normalize-space({local('DebitAmount')}/{local('Amount')})")
                credit = line.xpath(f"normalize-space({local('CreditAmount')}/{local('Amount')})")
                total += Decimal(debit or 0) - Decimal(credit or 0)
                count += 1
    return count, total


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_postings_match_an_independent_xpath_sum(path: Path):
    rows = read(path)
    count, total = xpath_expected(path)
    assert len(rows) == count
    assert [r["_parse_error"] for r in rows] == [None] * count
    assert sum((Decimal(r["amount_excl_vat"]) for r in rows), Decimal(0)) == total
    assert [r["_source_row"] for r in rows] == list(range(1, count + 1))


def test_v110_example_values():
    rows = read(V110)
    assert len(rows) == 22
    assert sum(Decimal(r["amount_excl_vat"]) for r in rows) == Decimal("504951.00")
    assert rows[0] | {"_raw_text": None} == {
        "municipality_id": None,
        "invoice_id": "1001",
        "line_no": "1",
        "invoice_date": "2017-01-04",
        "supplier_org_no": "987654651",
        "supplier_name": "Myke Tekstiler AS",
        "account": "4000",
        "art": None,
        "amount_excl_vat": "10000",
        "currency": "NOK",
        "item_code": None,
        "item_code_scheme": None,
        "description": "Faktura 1155 - Stoff til kosebamser",
        "order_ref": None,
        "contract_ref": None,
        "supplier_org_no_scheme": None,
        "seller_item_id": None,
        "quantity": None,
        "unit_price": None,
        "document_type": "posting",
        "department": None,
        "_source_row": 1,
        "_parse_error": None,
        "_raw_text": None,
    }
    assert {r["account"][0] for r in rows} <= {"4", "5", "6", "7"}
    # payroll (5000 paid from the bank, no supplier) and the cash purchase on 4000 are not spend
    assert "1007" not in {r["invoice_id"] for r in rows}
    assert "1048" not in {r["invoice_id"] for r in rows}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_ledger_totals_read_every_line(path: Path):
    totals = saft.ledger_totals(path)
    root = etree.parse(str(path)).getroot()
    entries = root.xpath(local("GeneralLedgerEntries"))[0]
    lines = entries.xpath(f"{local('Journal')}/{local('Transaction')}/{local('Line')}")
    assert totals.lines == len(lines)
    assert totals.stated_total_debit == Decimal(child_text(entries, "TotalDebit"))
    assert totals.stated_total_credit == Decimal(child_text(entries, "TotalCredit"))
    assert totals.total_debit == totals.stated_total_debit
    assert totals.total_credit == totals.stated_total_credit
    assert totals.unreadable_amounts == 0
    count, total = xpath_expected(path)
    assert (totals.records, totals.emitted_amount) == (count, total)


def test_v110_stated_totals():
    totals = saft.ledger_totals(V110)
    assert totals.stated_total_debit == totals.total_debit == Decimal("9487049.35")
    assert totals.stated_total_credit == totals.total_credit == Decimal("9487049.35")
    assert totals.stated_number_of_entries == totals.transactions == 53
    assert totals.lines == 170 and totals.currency == "NOK"


def test_v130_example_with_a_custom_rule():
    # the generated 1.3 example has placeholder values ('a'): no account starts with 4-7
    assert read(V130) == []
    (row,) = read(V130, expense_rule=lambda account: account.account_type == "GL")
    assert (row["invoice_id"], row["line_no"], row["account"], row["art"]) == ("a", "a", "a", "a")
    assert (row["supplier_org_no"], row["supplier_name"]) == ("a", "a")
    assert (row["amount_excl_vat"], row["currency"], row["invoice_date"]) == (
        "0",
        "aaa",
        "1957-08-13",
    )
    assert row["quantity"] == "0"


def test_expense_rules():
    account = saft.Account
    assert saft.standard_chart_expense(account("4000", standard_account_id="40"))
    assert saft.standard_chart_expense(account("7320", account_type="GL"))
    assert not saft.standard_chart_expense(account("2400", standard_account_id="24"))
    assert not saft.standard_chart_expense(account("3000"))
    assert saft.standard_chart_expense(
        account("1999", grouping_category="RF-1167", grouping_code="6300")
    )
    assert saft.kostra_expense(account("11000", grouping_category="KA_K", grouping_code="100"))
    assert saft.kostra_expense(account("27000", grouping_category="KA_K", grouping_code="270"))
    for art in ("429", "589", "600", "729", "35", "411", "5990", "", "abc"):
        assert not saft.kostra_expense(account("1", grouping_category="KA_K", grouping_code=art)), (
            art
        )
    # a municipal account 11000 'Kontormateriell' starts with 1: KOSTRA decides, not digit 1
    municipal = account("11000", account_type="GL", grouping_category="KA_K", grouping_code="100")
    assert saft.default_expense_rule(municipal)
    assert not saft.standard_chart_expense(municipal)


MUNICIPAL = """\
<?xml version="1.0" encoding="UTF-8"?>
<AuditFile xmlns="urn:StandardAuditFile-Taxation-Financial:NO">
  <Header>
    <AuditFileVersion>1.30</AuditFileVersion><AuditFileCountry>NO</AuditFileCountry>
    <DefaultCurrencyCode>NOK</DefaultCurrencyCode>
  </Header>
  <MasterFiles>
    <GeneralLedgerAccounts>
      {accounts}
    </GeneralLedgerAccounts>
    <Customers><Customer><CustomerID>K1</CustomerID><Name>Innbygger</Name></Customer></Customers>
    <Suppliers>
      <Supplier><RegistrationNumber>974760673</RegistrationNumber><Name>Kontor AS</Name>
        <SupplierID>S1</SupplierID></Supplier>
      <Supplier><RegistrationNumber>NO 923 609 016 MVA</RegistrationNumber><Name>Mat AS</Name>
        <SupplierID>S2</SupplierID></Supplier>
    </Suppliers>
  </MasterFiles>
  <GeneralLedgerEntries>
    <NumberOfEntries>7</NumberOfEntries>
    <TotalDebit>{debit}</TotalDebit>
    <TotalCredit>{credit}</TotalCredit>
    <Journal><JournalID>IF</JournalID><Description>Inngående faktura</Description><Type>IF</Type>
      {transactions}
    </Journal>
  </GeneralLedgerEntries>
  <SourceDocuments><PurchaseInvoices><NumberOfEntries>1</NumberOfEntries>
    <TotalDebit>999</TotalDebit><TotalCredit>0</TotalCredit>
    <Invoice><InvoiceNo>X</InvoiceNo><Supplier><SupplierID>S1</SupplierID></Supplier>
      <Line><AccountID>11000</AccountID><SupplierID>S1</SupplierID>
        <DebitAmount><Amount>999</Amount></DebitAmount></Line></Invoice>
  </PurchaseInvoices></SourceDocuments>
</AuditFile>
"""

ACCOUNTS = [
    ("11000", "Kontormateriell", "100"),
    ("11500", "Matvarer", "115"),
    ("14290", "Mva-kompensasjon", "429"),
    ("10100", "Fastlønn", "010"),
    ("25000", "Leverandørgjeld", "35"),
    ("19200", "Bank", "10"),
]

# (transaction id, date, [(record id, account, supplier id, debit, credit)])
TRANSACTIONS = [
    (
        "T1",
        "2024-01-15",
        [
            ("1", "11000", None, "1000.00", None),
            ("2", "14290", None, "250.00", None),
            ("3", "25000", "S1", None, "1250.00"),
        ],
    ),
    (
        "T2",
        "2024-02-01",
        [
            ("1", "11000", None, None, "200.00"),  # credit note
            ("2", "25000", "S1", "200.00", None),
        ],
    ),
    (
        "T3",
        "2024-02-10",
        [
            ("1", "10100", None, "5000", None),  # payroll: no supplier
            ("2", "19200", None, None, "5000"),
        ],
    ),
    (
        "T4",
        "2024-03-01",
        [
            ("1", "11500", None, "300", None),  # two suppliers: ambiguous
            ("2", "25000", "S1", None, "100"),
            ("3", "25000", "S2", None, "200"),
        ],
    ),
    (
        "T5",
        "2024-03-02",
        [
            ("1", "11500", "S2", "50.5", None),  # supplier on the cost line
            ("2", "19200", None, None, "50.5"),
        ],
    ),
    (
        "T6",
        "2024-03-03",
        [
            ("1", "11000", None, "10", None),  # supplier not in MasterFiles
            ("2", "25000", "S9", None, "10"),
        ],
    ),
    (
        "T7",
        "2024-03-04",
        [
            ("1", "11000", None, "12,5", None),  # decimal comma: invalid
            ("2", "25000", "S1", None, "12.5"),
        ],
    ),
]


def municipal_file(path: Path) -> Path:
    accounts = "\n".join(
        f"<Account><AccountID>{a}</AccountID><AccountDescription>{d}</AccountDescription>"
        f"<GroupingCategory>KA_K</GroupingCategory><GroupingCode>{g}</GroupingCode>"
        f"<AccountType>GL</AccountType></Account>"
        for a, d, g in ACCOUNTS
    )
    transactions = []
    debit_total = credit_total = Decimal(0)
    for tid, date, lines in TRANSACTIONS:
        body = []
        for rid, account, supplier, debit, credit in lines:
            amount = (
                f"<DebitAmount><Amount>{debit}</Amount></DebitAmount>"
                if debit
                else f"<CreditAmount><Amount>{credit}</Amount></CreditAmount>"
            )
            supplier_xml = f"<SupplierID>{supplier}</SupplierID>" if supplier else ""
            body.append(
                f"<Line><RecordID>{rid}</RecordID><AccountID>{account}</AccountID>"
                f"<ValueDate>2030-01-01</ValueDate>{supplier_xml}"
                f"<Description>{tid} line {rid}</Description>{amount}</Line>"
            )
            if debit and "," not in debit:
                debit_total += Decimal(debit)
            if credit:
                credit_total += Decimal(credit)
        transactions.append(
            f"<Transaction><TransactionID>{tid}</TransactionID><Period>1</Period>"
            f"<PeriodYear>2024</PeriodYear><TransactionDate>{date}</TransactionDate>"
            f"<Description>voucher {tid}</Description><SystemEntryDate>{date}</SystemEntryDate>"
            f"<GLPostingDate>{date}</GLPostingDate>{''.join(body)}</Transaction>"
        )
    path.write_text(
        MUNICIPAL.format(
            accounts=accounts,
            transactions="\n".join(transactions),
            debit=debit_total,
            credit=credit_total,
        ),
        encoding="utf-8",
    )
    return path


def test_municipal_file_uses_kostra_arts_and_the_supplier_rule(tmp_path: Path):
    rows = read(municipal_file(tmp_path / "kommune.xml"))
    assert [(r["invoice_id"], r["line_no"]) for r in rows] == [
        ("T1", "1"),
        ("T2", "1"),
        ("T4", "1"),
        ("T5", "1"),
        ("T6", "1"),
        ("T7", "1"),
    ]
    fine = [r for r in rows if r["_parse_error"] is None]
    assert [
        (r["invoice_id"], r["amount_excl_vat"], r["art"], r["supplier_org_no"]) for r in fine
    ] == [
        ("T1", "1000.00", "100", "974760673"),
        ("T2", "-200.00", "100", "974760673"),
        ("T5", "50.5", "115", "NO 923 609 016 MVA"),
    ]
    assert fine[0]["invoice_date"] == "2024-01-15"  # the voucher date, not the ValueDate
    assert fine[0]["description"] == "T1 line 1" and fine[0]["currency"] == "NOK"
    errors = {r["invoice_id"]: r["_parse_error"] for r in rows if r["_parse_error"]}
    assert errors == {
        "T4": "transaction T4 line 1: expense posting without its own SupplierID in a "
        "transaction naming several suppliers (S1, S2); ambiguous",
        "T6": "transaction T6 line 1: SupplierID 'S9' is not in MasterFiles/Suppliers",
        "T7": "transaction T7 line 1: amount '12,5' is not a number",
    }
    t7 = next(r for r in rows if r["invoice_id"] == "T7")
    assert "DebitAmount/Amount=12,5" in t7["_raw_text"] and "kommune.xml" in t7["_raw_text"]


def test_municipal_totals_ignore_source_documents(tmp_path: Path):
    totals = saft.ledger_totals(municipal_file(tmp_path / "kommune.xml"))
    assert totals.transactions == totals.stated_number_of_entries == 7
    assert totals.lines == 16 and totals.unreadable_amounts == 1
    assert totals.total_debit == totals.stated_total_debit
    assert totals.total_credit == totals.stated_total_credit
    assert (totals.records, totals.error_records) == (6, 3)
    assert totals.emitted_amount == Decimal("850.50")


def test_batches_number_records_continuously():
    rows = read(V110, batch_rows=5)
    assert [r["_source_row"] for r in rows] == list(range(1, 23))
    header = saft.read_header(V110, None)
    sizes = [t.num_rows for t in saft.iter_batches(V110, None, header, 5)]
    assert sizes == [5, 5, 5, 5, 2]


def test_doctype_files_are_rejected_without_expansion(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    bomb = tmp_path / "bomb.xml"
    bomb.write_text(
        textwrap.dedent("""\
        <?xml version="1.0"?>
        <!DOCTYPE AuditFile [
         <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
         <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
         <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
         <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
         <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
         <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
        ]>
        <AuditFile xmlns="urn:StandardAuditFile-Taxation-Financial:NO">
          <Header><DefaultCurrencyCode>&f;</DefaultCurrencyCode></Header>
        </AuditFile>
        """)
    )
    xxe = tmp_path / "xxe.xml"
    xxe.write_text(
        textwrap.dedent(f"""\
        <?xml version="1.0"?>
        <!DOCTYPE AuditFile [<!ENTITY x SYSTEM "{secret.as_uri()}">]>
        <AuditFile xmlns="urn:StandardAuditFile-Taxation-Financial:NO">
          <Header><DefaultCurrencyCode>&x;</DefaultCurrencyCode></Header>
        </AuditFile>
        """)
    )
    for path in (bomb, xxe):
        with pytest.raises(DeliveryRejected, match=rf"^{path.name}: .*DOCTYPE") as caught:
            saft.read_header(path, None)
        assert "TOP-SECRET" not in str(caught.value) and "aaaaaaaaaaaa" not in str(caught.value)
        with pytest.raises(DeliveryRejected, match="DOCTYPE"):
            list(saft.iter_batches(path, None, HEADER))
        with pytest.raises(saft.XmlFileProblem, match="DOCTYPE"):
            saft.ledger_totals(path)


def test_truncated_file_is_rejected_while_streaming(tmp_path: Path):
    data = V110.read_bytes()
    truncated = tmp_path / "truncated.xml"
    truncated.write_bytes(data[: int(len(data) * 0.6)])
    saft.read_header(truncated, None)  # the cheap check reads the prolog only
    with pytest.raises(
        DeliveryRejected,
        match=r"^truncated\.xml: not a valid SAF-T Financial "
        r"file \(not well-formed XML",
    ):
        list(saft.iter_batches(truncated, None, HEADER))


def test_deep_nesting_is_named_as_such(tmp_path: Path):
    deep = tmp_path / "deep.xml"
    deep.write_text(
        '<AuditFile xmlns="urn:StandardAuditFile-Taxation-Financial:NO"><Header>'
        + "<a>" * 300
        + "</a>" * 300
        + "</Header></AuditFile>"
    )
    with pytest.raises(DeliveryRejected) as caught:
        list(saft.iter_batches(deep, None, HEADER))
    assert re.fullmatch(
        r"deep\.xml: not a valid SAF-T Financial file \(elements are nested deeper than 256 "
        r"levels, the XML parser's safety limit \(line 1, column \d+\)\)",
        str(caught.value),
    ), str(caught.value)


def test_released_elements_take_what_came_before_them_along():
    """Memory stays flat: releasing a transaction frees its earlier siblings and those of
    its ancestors (finished sections, and elements the scan never stops at)."""
    events = etree.iterparse(str(V110), events=("end",), tag="{*}Transaction")
    _event, first = next(events)
    root = first.getroottree().getroot()
    before = [etree.QName(child).localname for child in root]
    assert before[:2] == ["Header", "MasterFiles"]
    _event, second = next(events)
    saft._release(second)
    journal = second.getparent()
    assert second.getprevious() is None and journal.getprevious() is None
    assert [etree.QName(child).localname for child in root] == ["GeneralLedgerEntries"]


def test_folder_with_a_good_and_a_truncated_file(tmp_path: Path):
    folder = tmp_path / "delivery"
    folder.mkdir()
    shutil.copy(V110, folder / "a_2017.xml")
    data = V110.read_bytes()
    (folder / "b_broken.xml").write_bytes(data[: int(len(data) * 0.8)])
    rows = read(folder)
    # no postings from the broken file although its first 80% are readable: one error row
    assert len(rows) == 23
    assert [r["_parse_error"] for r in rows[:22]] == [None] * 22
    assert rows[22]["_parse_error"].startswith(
        "file b_broken.xml: not a valid SAF-T Financial file (not well-formed XML"
    )
    assert rows[22]["_source_row"] == 23


def test_not_a_saft_file_and_size_limit(tmp_path: Path, monkeypatch):
    invoice = tmp_path / "invoice.xml"
    invoice.write_text('<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>')
    with pytest.raises(DeliveryRejected, match=r"root element is Invoice .* not a SAF-T"):
        saft.read_header(invoice, None)
    monkeypatch.setattr(saft, "MAX_FILE_BYTES", 10_000)
    with pytest.raises(DeliveryRejected, match=r"more than the SAF-T reader's limit \(10 000\)\)$"):
        saft.read_header(V110, None)
