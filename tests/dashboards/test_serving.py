"""How the dashboards are started: on 127.0.0.1 unless told otherwise, Streamlit's toolbar
in viewer mode (no Deploy button), in cooperation.language (SAMKJOP_LANGUAGE)."""

from __future__ import annotations

from pathlib import Path

from pipelines import cli, serve
from pipelines.settings import load_config
from tests.conftest import CONFIG, write


def _option(command, name: str) -> str:
    command = list(command)
    return command[command.index(name) + 1]


def test_samkjop_dashboards_listens_locally_in_viewer_mode(innherred: Path, monkeypatch):
    started = []
    monkeypatch.setattr(cli, "_foreground", lambda command, env: started.append((command, env)))
    write(innherred, CONFIG.replace("  country: NO\n", "  country: NO\n  language: da\n", 1))

    cli.main(["dashboards", "--config", str(innherred)])
    cli.main(["dashboards", "--config", str(innherred), "--host", "0.0.0.0", "--port", "8600"])

    (local, env), (everywhere, _) = started
    assert _option(local, "--server.address") == "127.0.0.1"
    assert _option(local, "--client.toolbarMode") == "viewer"
    assert env["SAMKJOP_LANGUAGE"] == "da"
    assert _option(everywhere, "--server.address") == "0.0.0.0"
    assert _option(everywhere, "--server.port") == "8600"


def test_samkjop_serve_starts_the_dashboards_in_viewer_mode(innherred: Path):
    cooperation = load_config(innherred)
    (ui, dashboards) = serve.servers(cooperation, 3000, 8501, "127.0.0.1")[-2:]
    assert _option(ui.command, "-h") == "127.0.0.1"
    assert _option(dashboards.command, "--server.address") == "127.0.0.1"
    assert _option(dashboards.command, "--client.toolbarMode") == "viewer"
