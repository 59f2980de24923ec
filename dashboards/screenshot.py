"""Take a headless-Chromium screenshot of the dashboards on a given snapshot.

    python -m dashboards.screenshot --snapshot PATH --out PATH [--page overview] [--language nb]
    python -m dashboards.screenshot --snapshot PATH --out-dir DIR --all-pages [--language nb]

Starts `streamlit run dashboards/streamlit_app.py` headless on a free port with
SAMKJOP_SNAPSHOT set, waits until it answers, opens the page in headless
Chromium, waits until the app has really rendered, writes the PNG and stops
Chromium and Streamlit again. A visual check for people, not a test. Needs
Chromium (Debian: `apt-get install -y chromium`).

Why not `chromium --headless --screenshot --virtual-time-budget=...`: a
Streamlit page is drawn in the browser from messages that arrive over a
WebSocket, and virtual time does not wait for those. Chromium's
`--screenshot` shot an empty page however large the budget. So this script
drives Chromium over the DevTools protocol (`--remote-debugging-pipe`, standard
library only): it polls the page until the script run is finished, no
skeleton placeholder is left and every chart has drawn, then captures it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dashboards import SNAPSHOT_ENV

APP = Path(__file__).resolve().parent / "streamlit_app.py"
REPO_ROOT = APP.parent.parent
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# The url paths of every page (streamlit_app.py), in the navigation's order.
PAGES = (
    "overview",
    "compare",
    "ehandel",
    "categories",
    "member",
    "suppliers",
    "followup",
    "deliveries",
)

# A fingerprint of the rendered page while it looks finished (null while not):
# the script run is over, no skeleton placeholder is left, every chart has drawn
# and something is visible in the main area. The page counts as rendered once
# the fingerprint stays the same for STABLE_POLLS polls in a row.
RENDERED_JS = """
(() => {
  const main = document.querySelector('[data-testid="stMainBlockContainer"]');
  if (!main) return null;
  const shown = Array.from(main.querySelectorAll('[data-testid="stElementContainer"]'))
    .filter((element) => element.offsetHeight > 0);
  if (shown.length === 0) return null;
  if (document.querySelector('[data-testid="stStatusWidget"]')) return null;  // running
  if (document.querySelector('[data-testid="stSkeleton"]')) return null;
  const charts = document.querySelectorAll('[data-testid="stVegaLiteChart"]');
  if (!Array.from(charts).every((chart) => chart.querySelector('canvas, svg'))) return null;
  return shown.length + ':' + document.querySelectorAll('[data-testid]').length
    + ':' + main.scrollHeight;
})()
"""
# The text of an exception or error box the page shows (null when none): a screenshot of
# a failed page is not a screenshot of the page.
FAILED_JS = """
(() => {
  const box = document.querySelector('[data-testid="stException"]');
  return box ? box.innerText.slice(0, 500) : null;
})()
"""
STABLE_POLLS = 4
POLL_SECONDS = 0.5
CONTENT_HEIGHT_JS = """
(() => {
  const main = document.querySelector('[data-testid="stMain"]');
  return Math.ceil(Math.max(main ? main.scrollHeight : 0, document.body.scrollHeight));
})()
"""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium binary to use, or SystemExit saying how to install one."""
    for candidate in [explicit] if explicit else [*CHROMIUM_NAMES, "/usr/bin/chromium"]:
        found = shutil.which(candidate) if candidate else None
        if found:
            return found
    raise SystemExit("Chromium not found: install it with `apt-get install -y chromium`.")


def streamlit_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


def chromium_command(chromium: str, profile_dir: str, width: int, height: int) -> list[str]:
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile_dir}",
        f"--window-size={width},{height}",
        "--remote-debugging-pipe",
        "about:blank",
    ]


def wait_until_healthy(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Block until Streamlit's health endpoint answers."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/_stcore/health"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"streamlit exited with code {process.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"streamlit did not answer on port {port} within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a child process we started, and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class DevTools:
    """A minimal Chrome DevTools protocol client over `--remote-debugging-pipe`.

    Chromium reads NUL-terminated JSON commands on its fd 3 and writes replies
    and events on its fd 4.
    """

    def __init__(self, command: list[str]) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Copies above fd 10 so that placing them on 3 and 4 cannot clobber each other.
        child_in = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
        child_out = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)

        def place_pipes() -> None:  # runs in the child between fork and exec
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        try:
            self.process = subprocess.Popen(
                command,
                preexec_fn=place_pipes,
                close_fds=False,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        finally:
            for fd in (to_browser_r, from_browser_w, child_in, child_out):
                os.close(fd)
        self._buffer = b""
        self._next_id = 0

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Send one command and return its result (events in between are skipped)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"Chromium closed the DevTools pipe during {method}")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method} failed: {reply['error']}")
                return reply.get("result", {})

    def attach_to_page(self) -> str:
        """A session on the browser's first page (the tab it opened)."""
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(target for target in targets if target["type"] == "page")
        attached = self.call(
            "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}
        )
        return attached["sessionId"]

    def evaluate(self, session: str, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session
        )
        return result.get("result", {}).get("value")

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self.call("Browser.close")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        stop(self.process)
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)


@contextlib.contextmanager
def serve(snapshot: Path, port: int, log_path: Path, timeout: float) -> Iterator[str]:
    """Run the dashboards on `snapshot` for the duration of the block; yields the base URL."""
    env = {**os.environ, SNAPSHOT_ENV: str(snapshot.resolve())}
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            streamlit_command(port), cwd=REPO_ROOT, env=env, stdout=log, stderr=log
        )
        try:
            wait_until_healthy(port, server, timeout)
            yield f"http://localhost:{port}"
        finally:
            stop(server)


def wait_until_rendered(browser: DevTools, session: str, timeout: float) -> None:
    """Poll until the page's RENDERED_JS fingerprint is stable (or warn at the timeout)."""
    deadline = time.monotonic() + timeout
    last, same = None, 0
    while time.monotonic() < deadline:
        fingerprint = browser.evaluate(session, RENDERED_JS)
        same = same + 1 if fingerprint is not None and fingerprint == last else 0
        if same >= STABLE_POLLS:
            return
        last = fingerprint
        time.sleep(POLL_SECONDS)
    print(f"warning: the page did not settle within {timeout:.0f} s", file=sys.stderr)


def capture(
    chromium: str,
    url: str,
    out: Path,
    profile_dir: str,
    *,
    width: int,
    height: int,
    full_page: bool,
    timeout: float,
    settle: float,
) -> None:
    """Open `url`, wait until the Streamlit app has rendered, write a PNG to `out`."""
    capture_many(
        chromium,
        [(url, out)],
        profile_dir,
        width=width,
        height=height,
        full_page=full_page,
        timeout=timeout,
        settle=settle,
    )


def capture_many(
    chromium: str,
    shots: list[tuple[str, Path]],
    profile_dir: str,
    *,
    width: int,
    height: int,
    full_page: bool,
    timeout: float,
    settle: float,
) -> None:
    """Open each (url, out) in turn in one Chromium, wait until the Streamlit app has
    rendered, write a PNG to `out`; a page that shows an exception is a RuntimeError."""
    browser = DevTools(chromium_command(chromium, profile_dir, width, height))
    try:
        session = browser.attach_to_page()
        for url, out in shots:
            metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
            browser.call("Emulation.setDeviceMetricsOverride", metrics, session)
            browser.call("Page.navigate", {"url": url}, session)
            wait_until_rendered(browser, session, timeout)
            failure = browser.evaluate(session, FAILED_JS)
            if failure:
                raise RuntimeError(f"{url} shows an exception: {failure}")
            time.sleep(settle)  # let charts finish their transitions
            if full_page:
                content_height = int(browser.evaluate(session, CONTENT_HEIGHT_JS) or height)
                if content_height > height:
                    metrics["height"] = content_height
                    browser.call("Emulation.setDeviceMetricsOverride", metrics, session)
                    time.sleep(settle)
            shot = browser.call("Page.captureScreenshot", {"format": "png"}, session)
            out.write_bytes(base64.b64decode(shot["data"]))
    finally:
        browser.close()


def page_url(base_url: str, page: str, language: str = "") -> str:
    """The address of `page` (url path; "" is the first page), in `language` when given.
    The default page (the overview) is served at "/" only: its url path is not found."""
    path = "" if page == PAGES[0] else page
    return f"{base_url}/{path}" + (f"?lang={language}" if language else "")


def take_screenshots(
    snapshot: Path,
    out_dir: Path,
    *,
    pages: tuple[str, ...] = PAGES,
    language: str = "",
    port: int | None = None,
    width: int = 1400,
    height: int = 1400,
    full_page: bool = True,
    chromium: str | None = None,
    timeout: float = 60.0,
    settle: float = 1.0,
) -> list[Path]:
    """Serve the dashboards on `snapshot` once and screenshot every page of `pages` into
    `out_dir/<page>[-<language>].png`; returns the files written."""
    browser = find_chromium(chromium)
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="samkjop-screenshot-") as scratch:
        log_path = Path(scratch) / "streamlit.log"
        try:
            with serve(snapshot, port or free_port(), log_path, timeout) as base_url:
                shots = []
                for page in pages:
                    out = out_dir / (f"{page}-{language}.png" if language else f"{page}.png")
                    out.unlink(missing_ok=True)
                    shots.append((page_url(base_url, page, language), out))
                capture_many(
                    browser,
                    shots,
                    str(Path(scratch) / "chromium-profile"),
                    width=width,
                    height=height,
                    full_page=full_page,
                    timeout=timeout,
                    settle=settle,
                )
                written = [out for _, out in shots]
        except (SystemExit, RuntimeError) as problem:
            log = log_path.read_text(errors="replace") if log_path.exists() else ""
            raise SystemExit(f"{problem}\nStreamlit's log:\n{log}") from problem
    return written


def take_screenshot(
    snapshot: Path,
    out: Path,
    *,
    page: str = "",
    language: str = "",
    port: int | None = None,
    width: int = 1400,
    height: int = 2200,
    full_page: bool = False,
    chromium: str | None = None,
    timeout: float = 60.0,
    settle: float = 1.0,
) -> Path:
    """Serve the dashboards on `snapshot`, screenshot `page` into `out`, stop serving."""
    browser = find_chromium(chromium)
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="samkjop-screenshot-") as scratch:
        log_path = Path(scratch) / "streamlit.log"
        try:
            with serve(snapshot, port or free_port(), log_path, timeout) as base_url:
                capture(
                    browser,
                    page_url(base_url, page, language),
                    out,
                    str(Path(scratch) / "chromium-profile"),
                    width=width,
                    height=height,
                    full_page=full_page,
                    timeout=timeout,
                    settle=settle,
                )
        except (SystemExit, RuntimeError) as problem:
            log = log_path.read_text(errors="replace") if log_path.exists() else ""
            raise SystemExit(f"{problem}\nStreamlit's log:\n{log}") from problem
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dashboards.screenshot",
        description="Screenshot the Samkjøp dashboards on a snapshot with headless Chromium.",
    )
    parser.add_argument("--snapshot", type=Path, required=True, help="published snapshot file")
    parser.add_argument("--out", type=Path, default=None, help="PNG file to write")
    parser.add_argument("--page", default="", help="url path of the page (default: first page)")
    parser.add_argument(
        "--all-pages",
        action="store_true",
        help="every page, one server: <out-dir>/<page>[-<language>].png (full page)",
    )
    parser.add_argument("--out-dir", type=Path, default=None, help="folder for --all-pages")
    parser.add_argument("--language", default="", help="nb, da or en (default: the cooperation's)")
    parser.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    parser.add_argument("--width", type=int, default=1400, help="viewport width in px")
    parser.add_argument("--height", type=int, default=2200, help="viewport height in px")
    parser.add_argument(
        "--full-page", action="store_true", help="grow the viewport to the whole page"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for render")
    parser.add_argument("--chromium", default=None, help="Chromium binary (default: search)")
    args = parser.parse_args(argv)
    if not args.snapshot.is_file():
        parser.error(f"no snapshot at {args.snapshot}")
    if args.all_pages:
        if args.out_dir is None:
            parser.error("--all-pages needs --out-dir")
        for written in take_screenshots(
            args.snapshot,
            args.out_dir,
            language=args.language,
            port=args.port,
            width=args.width,
            chromium=args.chromium,
            timeout=args.timeout,
        ):
            print(written)
        return 0
    if args.out is None:
        parser.error("--out is required (or --all-pages --out-dir DIR)")
    path = take_screenshot(
        args.snapshot,
        args.out,
        page=args.page,
        language=args.language,
        port=args.port,
        width=args.width,
        height=args.height,
        full_page=args.full_page,
        chromium=args.chromium,
        timeout=args.timeout,
    )
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
