"""A headless-Chromium screenshot of every dashboard page on the demo, in the demo's
language (bokmål), with one Streamlit server for all pages (dashboards/screenshot.py).

Needs Chromium (`apt-get install -y chromium`; .ci/run installs it): without it the test
fails, it never skips. The PNGs are kept in SAMKJOP_SCREENSHOT_DIR when that is set (to
look at them), else in the test's temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from dashboards import screenshot


@pytest.mark.xdist_group("demo_run")
def test_every_page_is_screenshot_on_the_demo(demo_run, tmp_path: Path) -> None:
    config, run = demo_run
    assert run.returncode in (0, 2), run.stderr
    snapshot = config.parent / "warehouse" / "samkjop.snapshot.duckdb"
    out_dir = Path(os.environ.get("SAMKJOP_SCREENSHOT_DIR") or tmp_path)

    written = screenshot.take_screenshots(snapshot, out_dir, language="nb", timeout=90)

    assert [path.name for path in written] == [f"{page}-nb.png" for page in screenshot.PAGES]
    for path in written:
        with Image.open(path) as image:
            assert image.format == "PNG"
            width, height = image.size
            assert width == 1400 and height >= 900, (path.name, image.size)
            # a drawn page, not a blank or skeleton one: many colours in the main area
            main = image.convert("RGB").crop((400, 0, width, min(height, 1400)))
            assert len(main.getcolors(maxcolors=1 << 20) or []) > 200, path.name


def test_screenshot_serves_in_viewer_mode_on_this_machine_only() -> None:
    served = screenshot.streamlit_command(8599)
    assert served[served.index("--client.toolbarMode") + 1] == "viewer"
    assert served[served.index("--server.address") + 1] == "127.0.0.1"
    assert (
        screenshot.page_url("http://localhost:1", "overview", "da") == "http://localhost:1/?lang=da"
    )
    assert screenshot.page_url("http://localhost:1", "member") == "http://localhost:1/member"
