"""HTML to PDF with headless Chromium's print-to-PDF (`Page.printToPDF`), driven over the
DevTools pipe by the same client the dashboards' screenshots use
(dashboards/screenshot.py). Needs Chromium (Debian: `apt-get install -y chromium`)."""

from __future__ import annotations

import base64
import tempfile
import time
from pathlib import Path

from dashboards.screenshot import DevTools, chromium_command, find_chromium

LOADED_JS = "document.readyState === 'complete'"
POLL_SECONDS = 0.1


class PdfError(Exception):
    """Chromium could not be found or could not print the page."""


def html_to_pdf(
    html_path: Path,
    pdf_path: Path,
    *,
    footer_html: str,
    chromium: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """Print `html_path` (a file with its own @page size and margins) to `pdf_path`, with
    `footer_html` as each page's footer (Chromium's footerTemplate)."""
    try:
        binary = find_chromium(chromium)
    except SystemExit as missing:
        raise PdfError(str(missing)) from None
    with tempfile.TemporaryDirectory(prefix="samkjop-report-chromium-") as profile:
        browser = DevTools(chromium_command(binary, profile, 1240, 1754))
        try:
            session = browser.attach_to_page()
            browser.call("Page.navigate", {"url": html_path.resolve().as_uri()}, session)
            _wait_until_loaded(browser, session, timeout)
            # Fonts are loaded before the layout the PDF is printed from.
            browser.call(
                "Runtime.evaluate",
                {"expression": "document.fonts.ready.then(() => true)", "awaitPromise": True},
                session,
            )
            printed = browser.call(
                "Page.printToPDF",
                {
                    "printBackground": True,
                    "preferCSSPageSize": True,
                    "displayHeaderFooter": True,
                    "headerTemplate": "<span></span>",
                    "footerTemplate": footer_html,
                },
                session,
            )
        except (RuntimeError, OSError, StopIteration) as error:
            raise PdfError(f"Chromium ({binary}) could not print {html_path}: {error}") from error
        finally:
            browser.close()
    pdf_path.write_bytes(base64.b64decode(printed["data"]))
    return pdf_path


def _wait_until_loaded(browser: DevTools, session: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if browser.evaluate(session, LOADED_JS):
            return
        time.sleep(POLL_SECONDS)
    raise PdfError(f"the report did not load in Chromium within {timeout:.0f} s")
