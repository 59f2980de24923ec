"""The exports opened by LibreOffice (headless, libreoffice-calc-nogui; .ci/run installs
it): hostile supplier names and descriptions in the XLSX and the CSV stay text, and
LibreOffice saves no formula when it writes them again as XLSX."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from pipelines import export
from tests.test_export import HOSTILE, _snapshot

SOFFICE = shutil.which("soffice")


def _convert(source: Path, out_dir: Path, profile: Path) -> Path:
    assert SOFFICE, "LibreOffice is not installed: apt-get install -y libreoffice-calc-nogui"
    subprocess.run(
        [
            SOFFICE,
            "--headless",
            f"-env:UserInstallation=file://{profile}",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(out_dir),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    converted = out_dir / f"{source.stem}.xlsx"
    assert converted.is_file(), f"LibreOffice wrote no {converted}"
    return converted


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_libreoffice_evaluates_no_hostile_text(tmp_path, fmt):
    snapshot = _snapshot(tmp_path / "snapshot.duckdb")
    path, _ = export.export_table(snapshot, "spend_lines", fmt, tmp_path / "export")
    converted = _convert(path, tmp_path / "converted", tmp_path / "profile")
    sheet = openpyxl.load_workbook(converted).worksheets[0]
    texts = []
    for row in sheet.iter_rows():
        for cell in row:
            # LibreOffice saves a boolean cell as the formula =TRUE() / =FALSE(): no text
            if cell.data_type == "f":
                assert cell.value in ("=TRUE()", "=FALSE()"), (cell.coordinate, cell.value)
            if isinstance(cell.value, str):
                texts.append(cell.value)
    # each hostile text is still there as text (evaluated, =HYPERLINK would read "click"
    # and -2+3 would be 1)
    for text in HOSTILE:
        core = text.lstrip("\t\r")
        assert any(core in value for value in texts), text
