"""`samkjop report`: the annual report of the 20 000-line demo (the shared `demo_run`),
printed to PDF by headless Chromium, turned into PNG pages by pdftoppm and into text by
pdftotext (Debian: chromium, poppler-utils; .ci/run installs them). Its figures are
checked against the marts, read here on their own, and formatted as the reader's locale
writes them. A missing tool fails these tests; it never skips them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from PIL import Image

from dashboards.formatting import format_amount, format_percent
from dashboards.i18n import translate
from pipelines.cli import main
from pipelines.report.render import TEMPLATES
from pipelines.settings import load_config
from tests.conftest import write_innherred

pytestmark = pytest.mark.xdist_group("demo_run")

YEAR = 2025  # the demo's latest complete year
A4_RATIO = 210 / 297
MAX_PAGES = 10
METRIC_NAMES = {
    "nb": ("Avtaledekning", "Avtalelojalitet", "Kjøp utenfor avtale"),
    "da": ("Aftaledækning", "Aftaleloyalitet", "Køb uden for aftale"),
}


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is missing: install it with `apt-get install -y poppler-utils`")
    return found


def _normal(text: str) -> str:
    """pdftotext's text with every kind of space as one space and the minus sign as '-'."""
    text = text.replace("\u00a0", " ").replace("\u202f", " ").replace("\u2212", "-")
    return re.sub(r"\s+", " ", text)


def _rows(snapshot: Path, sql: str, params: list | None = None) -> list[dict]:
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        result = con.execute(sql, params or [])
        names = [c[0] for c in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    finally:
        con.close()


def _report(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def demo_snapshot(demo_run) -> tuple[Path, Path]:
    config, result = demo_run
    assert result.returncode == 0, result.stdout + result.stderr
    return config, load_config(config).snapshot


@pytest.fixture(scope="module")
def printed(demo_snapshot, tmp_path_factory) -> dict[str, dict]:
    """The demo's report of YEAR in nb and da: the PDF, its PNG pages and its text."""
    config, _ = demo_snapshot
    pdftoppm, pdftotext, pdfinfo = _tool("pdftoppm"), _tool("pdftotext"), _tool("pdfinfo")
    results = {}
    for language in METRIC_NAMES:
        out = tmp_path_factory.mktemp(f"report-{language}")
        code = main(
            ["report", "--config", str(config), "--year", str(YEAR), "--language", language]
            + ["--format", "pdf", "--out", str(out)]
        )
        assert code == 0
        pdf = out / f"annual-report-{YEAR}-{language}.pdf"
        info = subprocess.run([pdfinfo, str(pdf)], capture_output=True, text=True, check=True)
        pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.MULTILINE).group(1))
        subprocess.run(
            [pdftoppm, "-r", "60", "-png", str(pdf), str(out / "page")], check=True, timeout=120
        )
        text = subprocess.run(
            [pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        results[language] = {
            "pdf": pdf,
            "pages": pages,
            "pngs": sorted(out.glob("page-*.png")),
            "text": _normal(text),
        }
    return results


@pytest.mark.parametrize("language", list(METRIC_NAMES))
def test_the_report_prints_as_a4_pages_with_content(printed, language):
    report = printed[language]
    assert report["pdf"].read_bytes().startswith(b"%PDF")
    # Each section marked new-page starts a page after the first; the report stays short
    # enough to print for a meeting; no page is empty.
    sections = (TEMPLATES / "report.html").read_text(encoding="utf-8").count('class="new-page"')
    assert sections + 1 <= report["pages"] <= MAX_PAGES, report["pages"]
    assert len(report["pngs"]) == report["pages"]
    for png in report["pngs"]:
        with Image.open(png) as image:
            width, height = image.size
            assert width / height == pytest.approx(A4_RATIO, abs=0.01), png
            grey = image.convert("L")
            inked = sum(grey.histogram()[:200])  # pixels clearly darker than paper
            assert inked > 0.01 * width * height, f"{png.name} is (nearly) blank"
    for page in range(1, report["pages"] + 1):
        assert (
            translate("report.page_of", language, page=page, pages=report["pages"])
            in (report["text"])
        )


@pytest.mark.parametrize("language", list(METRIC_NAMES))
def test_the_report_shows_the_marts_figures_in_the_readers_language(
    printed, demo_snapshot, language
):
    _, snapshot = demo_snapshot
    text = printed[language]["text"]
    for name in METRIC_NAMES[language]:
        assert name in text, name
    assert translate("report.title", language, year=YEAR) in text
    (currency,) = [r["currency"] for r in _rows(snapshot, "select currency from marts.cooperation")]
    kpis = _rows(
        snapshot,
        "select municipality_id, municipality_name, coverage, loyalty, influenceable_spend, "
        "off_agreement_spend from marts.municipality_kpis where year = ?",
        [YEAR],
    )
    assert len(kpis) == 7  # six members and the cooperation
    for row in kpis:
        if row["municipality_id"] != "ALL":
            assert row["municipality_name"] in text
        for column in ("coverage", "loyalty"):
            assert _normal(format_percent(row[column], language)) in text, (row, column)
        for column in ("influenceable_spend", "off_agreement_spend"):
            assert _normal(format_amount(row[column], currency, language)) in text, (row, column)
    per_capita = _rows(
        snapshot,
        "select off_agreement_spend_per_inhabitant as value from marts.per_capita where year = ?",
        [YEAR],
    )
    for row in per_capita:
        assert _normal(format_amount(row["value"], currency, language)) in text
    (target,) = [r["loyalty_target"] for r in _rows(snapshot, "select * from marts.cooperation")]
    target_text = translate("report.target", language, value=format_percent(target, language))
    assert _normal(target_text) in text
    assert translate("report.complete_year_note", language, members=6, year=YEAR) in text


@pytest.mark.parametrize("language", list(METRIC_NAMES))
def test_the_report_names_no_private_person(printed, demo_snapshot, language):
    """Payees without a validated organisation number or register entry, and those the
    register marks as persons, are summed as private persons: none of their names is
    printed, the aggregate row is."""
    _, snapshot = demo_snapshot
    text = printed[language]["text"]
    unidentified = _rows(
        snapshot,
        "select distinct supplier_name from marts.suppliers "
        "where (not is_supplier_identified "
        "or supplier_key in (select supplier_key from marts.private_payees)) "
        "and length(supplier_name) > 3",
    )
    assert unidentified, "the demo has payees without an identity"
    for row in unidentified:
        assert _normal(row["supplier_name"]) not in text, row
    assert translate("report.private_persons", language, count="").split("(")[0] in text
    largest = _rows(
        snapshot,
        "select supplier_name from marts.off_agreement_suppliers "
        "where municipality_id = 'ALL' and year = ? order by off_agreement_spend desc limit 1",
        [YEAR],
    )
    assert largest[0]["supplier_name"] in text  # an identified supplier is named


def test_a_year_without_data_and_a_missing_snapshot_are_errors(demo_snapshot, tmp_path, capsys):
    config, _ = demo_snapshot
    code, _, err = _report(
        capsys, "--config", str(config), "--year", "1999", "--out", str(tmp_path / "out")
    )
    assert code == 1
    assert "no spend in 1999" in err and "2025" in err, err
    assert not (tmp_path / "out").exists()
    unpublished = write_innherred(tmp_path / "unpublished")
    code, _, err = _report(
        capsys, "--config", str(unpublished), "--year", "2024", "--out", str(tmp_path / "out")
    )
    assert code == 1
    assert "no published snapshot" in err and "samkjop run" in err, err


def test_the_language_defaults_to_the_cooperations(demo_snapshot, tmp_path, capsys):
    """The demo is Norwegian (country NO, no cooperation.language): bokmål; --format html
    writes one self-contained file."""
    config, _ = demo_snapshot
    code, out, err = _report(
        capsys,
        "--config",
        str(config),
        "--year",
        str(YEAR),
        "--format",
        "html",
        "--out",
        str(tmp_path),
    )
    assert code == 0, err
    page = tmp_path / f"annual-report-{YEAR}-nb.html"
    assert str(page) in out
    html = page.read_text(encoding="utf-8")
    assert '<html lang="nb">' in html and "<svg" in html
    assert "<script" not in html and "src=" not in html  # nothing to fetch or run
    assert translate("report.title", "nb", year=YEAR) in html


def _html_text(path: Path) -> str:
    return _normal(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))


def test_an_incomplete_year_is_marked(demo_snapshot, tmp_path, capsys):
    """A copy of the demo's snapshot in which Tydal delivered only January-March 2025."""
    config, snapshot = demo_snapshot
    copy = tmp_path / "snapshot.duckdb"
    shutil.copyfile(snapshot, copy)
    con = duckdb.connect(str(copy))
    con.execute(
        "update marts.data_completeness set months_with_spend = 3, is_complete_year = false, "
        "last_month = date '2025-03-01' where municipality_id = '5033' and year = 2025"
    )
    con.execute(
        "update marts.data_completeness set is_complete_year = false, "
        "complete_member_count = 5 where municipality_id = 'ALL' and year = 2025"
    )
    con.close()
    from pipelines.report import build_report

    report = build_report(copy, YEAR, "nb", "html", tmp_path / "out")
    assert not report.is_complete_year
    text = _html_text(report.path)
    assert "Ufullstendig år" in text
    partial = translate(
        "report.partial_year_note", "nb", year=YEAR, delivering=6, members=6, complete=5
    )
    assert _normal(partial) in text
    assert "Tydal 3 av 12 januar 2025 – mars 2025 Ufullstendig" in text
    assert "Tydal (ufullstendig)" in text  # its row in the members' table


def test_a_register_supplier_marked_as_a_person_is_not_named(demo_snapshot, tmp_path):
    """A supplier the register marks as a person (marts.private_payees, issue 12 point 6)
    is counted among the private persons even with a valid organisation number."""
    _, snapshot = demo_snapshot
    copy = tmp_path / "snapshot.duckdb"
    shutil.copyfile(snapshot, copy)
    (largest,) = _rows(
        copy,
        "select supplier_key, supplier_name from marts.off_agreement_suppliers "
        "where municipality_id = 'ALL' and year = ? order by off_agreement_spend desc limit 1",
        [YEAR],
    )
    from pipelines.report import build_report

    before = _html_text(build_report(copy, YEAR, "en", "html", tmp_path / "before").path)
    assert largest["supplier_name"] in before
    con = duckdb.connect(str(copy))
    con.execute("insert into marts.private_payees values (?)", [largest["supplier_key"]])
    con.close()
    after = _html_text(build_report(copy, YEAR, "en", "html", tmp_path / "after").path)
    assert largest["supplier_name"] not in after
    counts = [int(n) for n in re.findall(r"Private persons \((\d+)\)", before + " " + after)]
    assert len(counts) == 2 and counts[1] == counts[0] + 1, counts


def test_a_large_payee_without_identity_is_summed_not_named(demo_snapshot, tmp_path):
    """A copy of the snapshot in which a payee without organisation number or register
    entry has the most off-agreement spend: it is the private persons' row, unnamed."""
    _, snapshot = demo_snapshot
    copy = tmp_path / "snapshot.duckdb"
    shutil.copyfile(snapshot, copy)
    con = duckdb.connect(str(copy))
    (key, name) = con.execute(
        "select suppliers_off.supplier_key, suppliers_off.supplier_name "
        "from marts.off_agreement_suppliers as suppliers_off "
        "inner join marts.suppliers as s using (supplier_key, year) "
        "where suppliers_off.municipality_id = 'ALL' and suppliers_off.year = ? "
        "and not s.is_supplier_identified and length(suppliers_off.supplier_name) > 3 "
        "order by suppliers_off.supplier_key limit 1",
        [YEAR],
    ).fetchone()
    con.execute(
        "update marts.off_agreement_suppliers set off_agreement_spend = 50000000 "
        "where municipality_id = 'ALL' and year = ? and supplier_key = ?",
        [YEAR, key],
    )
    (private_sum,) = con.execute(  # without identity, or marked a person by the register
        "select sum(suppliers_off.off_agreement_spend) "
        "from marts.off_agreement_suppliers as suppliers_off "
        "inner join marts.suppliers as s using (supplier_key, year) "
        "where suppliers_off.municipality_id = 'ALL' and suppliers_off.year = ? "
        "and (not s.is_supplier_identified "
        "or supplier_key in (select supplier_key from marts.private_payees)) "
        "and suppliers_off.off_agreement_spend > 0",
        [YEAR],
    ).fetchone()
    con.close()
    from pipelines.report import build_report

    text = _html_text(build_report(copy, YEAR, "nb", "html", tmp_path / "out").path)
    assert name not in text
    row = re.search(r"Privatpersoner \(\d+\) – (\S+ \S+ \S+ kr)", text)
    assert row, "no private persons row"
    assert row.group(1) == _normal(format_amount(private_sum, "NOK", "nb"))
