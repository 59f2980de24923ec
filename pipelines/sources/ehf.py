"""Reader for EHF 3.0 / Peppol BIS Billing 3.0 e-invoices and credit notes (UBL 2.1).

One record per `cac:InvoiceLine` / `cac:CreditNoteLine`, with the document's header
fields (id, issue date, supplier, currency, order and contract reference, the buyer
reference as the department) repeated on every line, and per line the seller's item id,
the quantity and the net unit price (PriceAmount / BaseQuantity) for price control. A
credit note reduces spend: its line amounts and quantities are negated, prices are not.

A delivery is one XML file or a folder of them (`*.xml`, read in name order, records
numbered continuously). In a folder, a file that cannot be used becomes one row with
`_parse_error` set; a single file that cannot be used rejects the delivery.

The module also holds the XML safety rules shared with the SAF-T and Excel readers: no
DTDs (a DOCTYPE rejects the file, so no entity is ever expanded: billion laughs, XXE), no
network access, libxml2's default limits (`huge_tree=False`: text nodes up to 10 MB,
elements nested up to 256 levels) and a file-size cap (`limits.xml_max_file_bytes` in
cooperation.yml for an e-invoice). One e-invoice is parsed whole, so memory is
proportional to the largest document, which the caps bound: its size and the number of its
elements (`limits.xml_max_elements`; a tree of empty elements takes about forty times
their bytes).

What is *not* in the line records: document-level allowances and charges
(`cac:AllowanceCharge` directly under the root, e.g. freight). They make up the difference
between `LegalMonetaryTotal/LineExtensionAmount` (= the sum of the lines) and
`TaxExclusiveAmount`; `iter_document_totals` reports both for reconciliation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import IO

import pyarrow as pa
from lxml import etree

from pipelines.settings import Limits
from pipelines.sources import DeliveryRejected, grouped
from pipelines.sources.csv_file import CsvHeader

COLUMNS: tuple[str, ...] = (
    "municipality_id",
    "invoice_id",
    "line_no",
    "invoice_date",
    "supplier_org_no",
    "supplier_name",
    "account",
    "art",
    "amount_excl_vat",
    "currency",
    "item_code",
    "item_code_scheme",
    "description",
    "order_ref",
    "contract_ref",
    "supplier_org_no_scheme",
    "seller_item_id",
    "quantity",
    "unit_price",
    "document_type",
    "department",
)
_INDEX = {name: i for i, name in enumerate(COLUMNS)}

RAW_TEXT_LIMIT = 500
UNIT_PRICE_EXPONENT = Decimal("0.000001")  # raw.spend_lines.unit_price is DECIMAL(18, 6)

UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NS = {"cac": CAC, "cbc": CBC}

# Peppol EAS codes (ISO 6523 ICD) that carry a Nordic organisation number.
ORG_NO_SCHEMES = {"0192": "NO", "0184": "DK", "0007": "SE", "0212": "FI", "0037": "FI"}
# UNTDID 7143 item classification list ids -> the scheme names the classifier uses.
ITEM_CODE_SCHEMES = {"STI": "CPV", "TST": "UNSPSC"}

_SAFE_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


# ---------------------------------------------------------------------------------------
# Shared by the XML readers (EHF and SAF-T)
# ---------------------------------------------------------------------------------------


class XmlFileProblem(Exception):
    """One XML file cannot be used; the message is the reason, without the file name."""


@dataclass(frozen=True)
class Record:
    """One output row: `values` in COLUMNS order; `error`/`raw` set for a rejected record."""

    values: Sequence[str | None]
    error: str | None = None
    raw: str | None = None
    line: int | None = None  # the line of its element in the XML file (lxml's sourceline)


def localname(element: etree._Element) -> str:
    return etree.QName(element).localname


def _check_size(path: Path, max_bytes: int, limit: str) -> None:
    size = path.stat().st_size
    if size > max_bytes:
        raise XmlFileProblem(
            f"the file is {grouped(size)} bytes, more than {limit} ({grouped(max_bytes)})"
        )
    if size == 0:
        raise XmlFileProblem("the file is empty")


def safe_iterparse(
    path: Path,
    events: tuple[str, ...] = ("end",),
    tag: Sequence[str] | None = None,
    max_bytes: int | None = None,
    limit: str = "limits.xml_max_file_bytes",
) -> Iterator[tuple[str, etree._Element]]:
    """lxml.iterparse with the safety rules: size cap (`max_bytes`, default that of
    `limits.xml_max_file_bytes`; `limit` names it in the message), no DTD/entities, no
    network. See `safe_events` for the problems raised."""
    _check_size(path, Limits().xml_max_file_bytes if max_bytes is None else max_bytes, limit)
    yield from safe_events(str(path), events, tag)


def safe_events(
    source: str | IO[bytes],
    events: tuple[str, ...] = ("end",),
    tag: Sequence[str] | None = None,
) -> Iterator[tuple[str, etree._Element]]:
    """lxml.iterparse of a file name or an open binary stream, without DTD, entities or
    network. Raises XmlFileProblem for a DOCTYPE, a document that is not well-formed
    (truncated, wrong encoding, ...) or one beyond libxml2's limits (nesting, text node
    size), in plain words with the line and column. The DOCTYPE is checked at the first
    event, before any content is handed to the caller; with `resolve_entities=False`
    libxml2 does not substitute entities before that either."""
    context = etree.iterparse(source, events=events, tag=tag, **_SAFE_PARSER_OPTIONS)
    checked = False
    try:
        for event, element in context:
            if not checked:
                _reject_doctype(element)
                checked = True
            yield event, element
    except etree.XMLSyntaxError as error:
        raise XmlFileProblem(syntax_problem(error)) from None
    except UnicodeDecodeError as error:
        raise XmlFileProblem(f"cannot be decoded: {error}") from None


def syntax_problem(error: etree.XMLSyntaxError) -> str:
    """libxml2's complaint in plain words: its own safety limits named as limits."""
    message = (error.msg or str(error)).split(", line ")[0]
    line, column = error.position if error.position else (error.lineno, error.offset)
    where = f"line {line}, column {column}"
    depth = re.match(r"Excessive depth in document: (\d+)", message)
    if depth:
        return (
            f"elements are nested deeper than {depth.group(1)} levels, the XML parser's "
            f"safety limit ({where})"
        )
    if "Text node too long" in message:
        return (
            "a text node (e.g. an embedded attachment) is longer than 10 000 000 characters, "
            f"the XML parser's safety limit ({where})"
        )
    if "XML_PARSE_HUGE" in message:
        reason = message.split(", use XML_PARSE_HUGE")[0].split(", try XML_PARSE_HUGE")[0]
        return f"beyond one of the XML parser's safety limits: {reason} ({where})"
    return f"not well-formed XML: {message} ({where})"


def _reject_doctype(element: etree._Element) -> None:
    docinfo = element.getroottree().docinfo
    if (
        docinfo.internalDTD is not None
        or docinfo.externalDTD is not None
        or docinfo.system_url
        or docinfo.public_id
    ):
        raise XmlFileProblem(
            "the file declares a DOCTYPE (DTDs and entities are not accepted: "
            "possible entity-expansion or external-entity attack)"
        )


def root_element_name(
    path: Path, max_bytes: int | None = None, limit: str = "limits.xml_max_file_bytes"
) -> etree.QName:
    """The root element's name, reading no further than its start tag (plus the checks)."""
    events = safe_iterparse(path, events=("start",), max_bytes=max_bytes, limit=limit)
    try:
        for _event, element in events:
            return etree.QName(element)
    finally:
        events.close()
    raise XmlFileProblem("the file has no root element")


def delivery_files(path: Path) -> list[Path]:
    """The XML files of a delivery: the file itself, or a folder's `*.xml` sorted by name."""
    if not path.is_dir():
        return [path]
    files = sorted(
        (p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".xml"),
        key=lambda p: p.name,
    )
    if not files:
        raise DeliveryRejected(f"{path.name}: the folder holds no *.xml file")
    return files


def check_delivery(path: Path, check_file: Callable[[Path], None], what: str) -> CsvHeader:
    """read_header for XML readers: a single file must pass `check_file`; a folder must
    hold at least one XML file (its broken files become error rows later)."""
    if not path.exists():
        raise DeliveryRejected(f"{path.name}: no such file or folder")
    if path.is_dir():
        delivery_files(path)
    else:
        try:
            check_file(path)
        except XmlFileProblem as problem:
            raise DeliveryRejected(f"{path.name}: not a valid {what} ({problem})") from None
        except OSError as error:
            raise DeliveryRejected(f"{path.name}: cannot be read ({error.strerror})") from None
    return CsvHeader(list(COLUMNS))


def delivery_records(
    path: Path,
    read_file: Callable[[Path], Iterator[Record]],
    what: str,
) -> Iterator[Record]:
    """The records of every file of a delivery. `read_file` must raise XmlFileProblem before
    yielding anything when its file cannot be used; in a folder that becomes one error row."""
    if not path.is_dir():
        try:
            yield from read_file(path)
        except XmlFileProblem as problem:
            raise DeliveryRejected(f"{path.name}: not a valid {what} ({problem})") from None
        except OSError as error:
            raise DeliveryRejected(f"{path.name}: cannot be read ({error.strerror})") from None
        return
    for file in delivery_files(path):
        try:
            yield from read_file(file)
        except (XmlFileProblem, OSError) as problem:
            reason = problem.strerror if isinstance(problem, OSError) else str(problem)
            yield Record(
                [None] * len(COLUMNS), f"file {file.name}: not a valid {what} ({reason})", file.name
            )


def record_batches(records: Iterable[Record], batch_rows: int) -> Iterator[pa.Table]:
    """Arrow tables c0..cN + _source_row/_parse_error/_raw_text, as csv_file.iter_batches."""
    batch: list[Record] = []
    first_row = 1
    for record in records:
        batch.append(record)
        if len(batch) >= batch_rows:
            yield _to_table(batch, first_row)
            first_row += len(batch)
            batch = []
    if batch:
        yield _to_table(batch, first_row)


def _to_table(batch: list[Record], first_row: int) -> pa.Table:
    arrays = {
        f"c{i}": pa.array([r.values[i] for r in batch], type=pa.string())
        for i in range(len(COLUMNS))
    }
    arrays["_source_row"] = pa.array(range(first_row, first_row + len(batch)), type=pa.int64())
    arrays["_parse_error"] = pa.array([r.error for r in batch], type=pa.string())
    arrays["_raw_text"] = pa.array([r.raw for r in batch], type=pa.string())
    lines = pa.array([r.line for r in batch], type=pa.int64())
    arrays["_source_line"] = lines  # where the element starts (one line: its first)
    arrays["_last_line"] = lines
    return pa.table(arrays)


def decimal_value(text: str | None) -> Decimal | None:
    """A plain XML decimal ('1273', '-3.96'); None when absent; ValueError when invalid."""
    if text is None or not text.strip():
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text.strip()!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{text.strip()!r} is not a number")
    return value


def decimal_text(value: Decimal) -> str:
    """Plain notation with a decimal point, never an exponent, never '-0'."""
    value = Decimal(value)
    return format(value if value else abs(value), "f")


def shorten(text: str, limit: int = RAW_TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render_leaves(element: etree._Element) -> str:
    """A compact one-line rendering of an element's text leaves, for `_raw_text`."""
    parts = []
    for leaf in element.iter():
        if not isinstance(leaf.tag, str) or len(leaf):
            continue
        text = " ".join((leaf.text or "").split())
        if text:
            parts.append(f"{localname(leaf)}={text}")
    return shorten("; ".join(parts))


# ---------------------------------------------------------------------------------------
# EHF / Peppol BIS Billing 3.0
# ---------------------------------------------------------------------------------------


def _text(element: etree._Element | None, path: str) -> str | None:
    if element is None:
        return None
    found = element.find(path, NS)
    if found is None or found.text is None:
        return None
    text = " ".join(found.text.split())
    return text or None


def _attribute(element: etree._Element | None, path: str, name: str) -> str | None:
    found = None if element is None else element.find(path, NS)
    value = None if found is None else (found.get(name) or "").strip()
    return value or None


def _parse_document(path: Path, limits: Limits) -> etree._Element:
    """The whole document (e-invoices are small), parsed under the safety rules and held to
    `limits.xml_max_elements` (a tree takes up to forty times the bytes of its elements)."""
    root = None
    events = safe_iterparse(path, ("start",), max_bytes=limits.xml_max_file_bytes)
    for count, (_event, element) in enumerate(events, start=1):
        if root is None:
            root = element
        if count > limits.xml_max_elements:
            raise XmlFileProblem(
                "the document holds more XML elements than limits.xml_max_elements "
                f"({grouped(limits.xml_max_elements)})"
            )
    if root is None:
        raise XmlFileProblem("the file has no root element")
    return root


def _document_type(name: etree.QName) -> str:
    if name.namespace == UBL_INVOICE and name.localname == "Invoice":
        return "invoice"
    if name.namespace == UBL_CREDIT_NOTE and name.localname == "CreditNote":
        return "credit_note"
    shown = name.localname if not name.namespace else f"{name.localname} ({name.namespace})"
    raise XmlFileProblem(f"the root element is {shown}, not a UBL Invoice or CreditNote")


def _check_ehf_file(path: Path, limits: Limits) -> None:
    _document_type(etree.QName(_parse_document(path, limits)))


def _supplier(party: etree._Element | None) -> tuple[str | None, str | None, str | None]:
    """(org no, its EAS scheme, name). EndpointID when it carries an organisation-number
    scheme; else the legal registration id (BT-30); else a party id with an org-no scheme;
    else the EndpointID whatever its scheme (e.g. a GLN, 0088)."""
    endpoint = _text(party, "cbc:EndpointID")
    endpoint_scheme = _attribute(party, "cbc:EndpointID", "schemeID")
    candidates = [(endpoint, endpoint_scheme, endpoint_scheme in ORG_NO_SCHEMES)]
    candidates.append(
        (
            _text(party, "cac:PartyLegalEntity/cbc:CompanyID"),
            _attribute(party, "cac:PartyLegalEntity/cbc:CompanyID", "schemeID"),
            True,
        )
    )
    for identification in (
        [] if party is None else party.findall("cac:PartyIdentification/cbc:ID", NS)
    ):
        scheme = (identification.get("schemeID") or "").strip() or None
        candidates.append(
            ((identification.text or "").strip() or None, scheme, scheme in ORG_NO_SCHEMES)
        )
    candidates.append((endpoint, endpoint_scheme, True))
    org_no, scheme = next(((v, s) for v, s, ok in candidates if v and ok), (None, None))
    name = _text(party, "cac:PartyLegalEntity/cbc:RegistrationName") or _text(
        party, "cac:PartyName/cbc:Name"
    )
    return org_no, scheme, name


def _item_classification(item: etree._Element | None) -> tuple[str | None, str | None]:
    """CPV (listID STI) first, then UNSPSC (TST), then the first other code with its listID."""
    codes = []
    for code in (
        []
        if item is None
        else item.findall("cac:CommodityClassification/cbc:ItemClassificationCode", NS)
    ):
        value = " ".join((code.text or "").split())
        if value:
            list_id = (code.get("listID") or "").strip() or None
            codes.append((value, ITEM_CODE_SCHEMES.get(list_id or "", list_id)))
    for scheme in ITEM_CODE_SCHEMES.values():
        for value, found in codes:
            if found == scheme:
                return value, scheme
    return codes[0] if codes else (None, None)


def _ehf_records(path: Path, limits: Limits) -> Iterator[Record]:
    root = _parse_document(path, limits)
    document_type = _document_type(etree.QName(root))
    credit = document_type == "credit_note"
    line_tag = "cac:CreditNoteLine" if credit else "cac:InvoiceLine"
    quantity_tag = "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity"
    org_no, scheme, supplier_name = _supplier(
        root.find("cac:AccountingSupplierParty/cac:Party", NS)
    )
    invoice_id = _text(root, "cbc:ID")
    issue_date = _text(root, "cbc:IssueDate")
    currency = _text(root, "cbc:DocumentCurrencyCode")
    header = {
        "invoice_id": invoice_id,
        "invoice_date": issue_date[:10] if issue_date else None,  # xs:date may carry a zone
        "supplier_org_no": org_no,
        "supplier_org_no_scheme": scheme,
        "supplier_name": supplier_name,
        "currency": currency,
        "order_ref": _text(root, "cac:OrderReference/cbc:ID"),
        "contract_ref": _text(root, "cac:ContractDocumentReference/cbc:ID"),
        "document_type": document_type,
        # BT-10 Buyer reference: the buyer's own routing id, in Norwegian municipalities
        # the ordering unit ("Deres ref.", ansvar/avdeling)
        "department": _text(root, "cbc:BuyerReference"),
    }
    document_account = _text(root, "cbc:AccountingCost")
    lines = root.findall(line_tag, NS)
    if not lines:
        yield Record(
            _values(header),
            f"document {invoice_id} has no {line_tag.split(':')[1]}",
            f"{path.name}: {render_leaves(root)}",
            root.sourceline,
        )
        return
    for line in lines:
        yield _line_record(path, line, header, document_account, credit, quantity_tag)


def _values(fields: dict[str, str | None]) -> list[str | None]:
    values: list[str | None] = [None] * len(COLUMNS)
    for name, value in fields.items():
        values[_INDEX[name]] = value
    return values


def _line_record(
    path: Path,
    line: etree._Element,
    header: dict[str, str | None],
    document_account: str | None,
    credit: bool,
    quantity_tag: str,
) -> Record:
    item = line.find("cac:Item", NS)
    item_code, item_code_scheme = _item_classification(item)
    fields = dict(header)
    fields.update(
        {
            "line_no": _text(line, "cbc:ID"),
            "account": _text(line, "cbc:AccountingCost") or document_account,
            "item_code": item_code,
            "item_code_scheme": item_code_scheme,
            "description": _text(item, "cbc:Name") or _text(item, "cbc:Description"),
            "seller_item_id": _text(item, "cac:SellersItemIdentification/cbc:ID"),
            "unit_price": _unit_price(line),
            "quantity": _number_or_text(_text(line, quantity_tag), negate=credit),
        }
    )
    where = f"document {header['invoice_id']} line {fields['line_no']}"
    amount_text = _text(line, "cbc:LineExtensionAmount")
    error = None
    try:
        amount = decimal_value(amount_text)
        if amount is None:
            error = f"{where}: no LineExtensionAmount"
        else:
            fields["amount_excl_vat"] = decimal_text(-amount if credit else amount)
    except ValueError as problem:
        error = f"{where}: LineExtensionAmount {problem}"
    line_currency = _attribute(line, "cbc:LineExtensionAmount", "currencyID")
    if (
        error is None
        and line_currency
        and header["currency"]
        and line_currency != header["currency"]
    ):
        error = (
            f"{where}: the line amount is in {line_currency}, the document currency "
            f"is {header['currency']}"
        )
    if error is None:
        return Record(_values(fields), line=line.sourceline)
    return Record(_values(fields), error, f"{path.name}: {render_leaves(line)}", line.sourceline)


def _number_or_text(text: str | None, negate: bool) -> str | None:
    """A quantity or price as a plain decimal; an unreadable one passes through as text
    (it is informative only, the loader may reject or ignore it)."""
    try:
        value = decimal_value(text)
    except ValueError:
        return text
    if value is None:
        return None
    return decimal_text(-value if negate else value)


def _unit_price(line: etree._Element) -> str | None:
    """Net price per unit: PriceAmount (BT-146, net of VAT and of price discounts) divided
    by BaseQuantity (BT-149, the number of units the price is for; 1 when absent). Always
    positive, also on credit notes (the quantity carries the sign). Unreadable values pass
    through as text, e.g. '200 / 0'; the loader rejects the line naming them."""
    price_text = _text(line, "cac:Price/cbc:PriceAmount")
    base_text = _text(line, "cac:Price/cbc:BaseQuantity")
    try:
        price, base = decimal_value(price_text), decimal_value(base_text)
    except ValueError:
        price = base = None
    if price_text is None:
        return None
    if price is None or (base_text is not None and (base is None or base <= 0)):
        return price_text if base_text is None else f"{price_text} / {base_text}"
    if base is not None and base != 1:
        price = (price / base).quantize(UNIT_PRICE_EXPONENT).normalize()
    return decimal_text(price)


def read_header(path: Path, profile: object = None, *, limits: Limits | None = None) -> CsvHeader:
    """Cheap sanity check: a single file must be a well-formed, DTD-free Invoice/CreditNote
    within `limits.xml_max_file_bytes`."""
    check = partial(_check_ehf_file, limits=limits or Limits())
    return check_delivery(path, check, "EHF/Peppol BIS 3 invoice or credit note")


def iter_batches(
    path: Path,
    profile: object,
    header: CsvHeader,
    batch_rows: int = 100_000,
    *,
    limits: Limits | None = None,
) -> Iterator[pa.Table]:
    """One row per invoice / credit note line of every document of the delivery."""
    read_file = partial(_ehf_records, limits=limits or Limits())
    records = delivery_records(path, read_file, "EHF/Peppol BIS 3 invoice or credit note")
    yield from record_batches(records, batch_rows)


# ---------------------------------------------------------------------------------------
# Reconciliation
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentTotals:
    """A document's own totals, signed like the line records (credit notes negative)."""

    file: str
    invoice_id: str | None
    document_type: str
    currency: str | None
    line_extension_amount: Decimal | None  # = sum of the lines (BR-CO-10)
    tax_exclusive_amount: Decimal | None  # lines - document allowances + document charges
    allowance_total_amount: Decimal | None
    charge_total_amount: Decimal | None


def iter_document_totals(path: Path, limits: Limits | None = None) -> Iterator[DocumentTotals]:
    """`LegalMonetaryTotal` of every usable document of a delivery (unusable ones skipped:
    iter_batches reports them)."""
    for file in delivery_files(path):
        try:
            root = _parse_document(file, limits or Limits())
            document_type = _document_type(etree.QName(root))
        except XmlFileProblem:
            continue
        sign = -1 if document_type == "credit_note" else 1

        def total(name: str, root: etree._Element = root, sign: int = sign) -> Decimal | None:
            try:
                value = decimal_value(_text(root, f"cac:LegalMonetaryTotal/cbc:{name}"))
            except ValueError:
                return None
            return None if value is None else sign * value

        yield DocumentTotals(
            file.name,
            _text(root, "cbc:ID"),
            document_type,
            _text(root, "cbc:DocumentCurrencyCode"),
            total("LineExtensionAmount"),
            total("TaxExclusiveAmount"),
            total("AllowanceTotalAmount"),
            total("ChargeTotalAmount"),
        )
