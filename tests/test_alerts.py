"""Alerts reach the procurement unit: through a real local SMTP server (aiosmtpd) and a
real local HTTP server, started by the tests."""

from __future__ import annotations

import pytest

from pipelines.alerts import Alert, newly_overdue, send_alerts
from pipelines.settings import ConfigError, load_config
from tests.conftest import free_port, write_innherred


def _cooperation(tmp_path, alerts_yaml: str):
    config = write_innherred(tmp_path)
    config.write_text(config.read_text(encoding="utf-8") + alerts_yaml, encoding="utf-8")
    return load_config(config)


REJECTED = Alert(
    "rejected_delivery",
    "spend_5037_2024-08.csv: missing required column 'municipality_id'",
    member_id="5037",
    member_name="Levanger",
    file="spend_5037_2024-08.csv",
    run_id="abc-123",
)


def test_a_rejected_delivery_is_mailed_to_the_unit(tmp_path, smtp_server):
    port, inbox = smtp_server
    cooperation = _cooperation(
        tmp_path,
        f"""
alerts:
  email: {{to: [innkjop@innherred.no], from: samkjop@innherred.no,
          smtp_host: 127.0.0.1, smtp_port: {port}}}
  link: http://samkjop.innherred.no:3000/
""",
    )

    assert send_alerts(cooperation, [REJECTED]) == []

    ((recipients, message),) = inbox.messages
    assert recipients == ["innkjop@innherred.no"]
    assert message["Subject"] == "Samkjøp Innherred innkjøp: delivery rejected"
    body = message.get_content()
    assert "delivery rejected: 5037 Levanger" in body
    assert "file: spend_5037_2024-08.csv" in body
    assert "reason: spend_5037_2024-08.csv: missing required column 'municipality_id'" in body
    assert "see: http://samkjop.innherred.no:3000/runs/abc-123" in body


def test_the_webhook_gets_every_alert_as_json(tmp_path, http_server):
    port, received = http_server
    cooperation = _cooperation(
        tmp_path, f"alerts:\n  webhook: {{url: 'http://127.0.0.1:{port}/hook'}}\n"
    )
    failed = Alert("failed_run", "dbt build: test unique_fct_spend_lines failed", log="/x.log")

    assert send_alerts(cooperation, [REJECTED, failed]) == []

    ((content_type, body),) = received
    assert content_type == "application/json; charset=utf-8"
    assert body["summary"] == "Samkjøp Innherred innkjøp: delivery rejected, run failed"
    assert [a["event"] for a in body["alerts"]] == ["rejected_delivery", "failed_run"]
    assert body["alerts"][0]["member_id"] == "5037"
    assert body["alerts"][1]["link"] == "/x.log"  # no UI link configured: the log


def test_events_not_asked_for_are_not_sent(tmp_path, http_server):
    port, received = http_server
    cooperation = _cooperation(
        tmp_path, f"alerts:\n  webhook: {{url: 'http://127.0.0.1:{port}/'}}\n  on: [failed_run]\n"
    )
    assert send_alerts(cooperation, [REJECTED]) == []
    assert received == []


def test_an_unreachable_channel_is_reported_never_raised(tmp_path):
    cooperation = _cooperation(
        tmp_path,
        f"""
alerts:
  email: {{to: a@b.no, from: c@d.no, smtp_host: 127.0.0.1, smtp_port: {free_port()}}}
  webhook: {{url: 'http://127.0.0.1:{free_port()}/'}}
  timeout_seconds: 2
""",
    )
    problems = send_alerts(cooperation, [REJECTED])
    assert len(problems) == 2
    assert problems[0].startswith("the e-mail alert could not be sent: ConnectionRefusedError")
    assert problems[1].startswith("the webhook alert could not be sent: URLError")


def test_an_overdue_member_is_announced_once(tmp_path):
    cooperation = _cooperation(tmp_path, "")
    overdue = {"5037": "last delivery 2024-06 (due monthly)"}

    (first,) = newly_overdue(cooperation, overdue)
    assert (first.event, first.member_id, first.member_name) == (
        "overdue_member",
        "5037",
        "Levanger",
    )
    assert newly_overdue(cooperation, overdue) == []  # still overdue: not again
    assert newly_overdue(cooperation, {}) == []  # delivered again
    assert len(newly_overdue(cooperation, overdue)) == 1  # overdue again: announced again


@pytest.mark.parametrize(
    ("alerts_yaml", "message"),
    [
        ("alerts:\n  email: {to: innkjop, from: a@b.no}\n", "alerts.email.to[0]: 'innkjop'"),
        ("alerts:\n  webhook: {url: ftp://x}\n", "alerts.webhook.url: 'ftp://x' is not valid"),
        ("alerts:\n  on: [everything]\n", "alerts.on: ['everything']: expected a list of"),
        ("alerts:\n  email: {to: a@b.no}\n", "alerts.email"),
        ("alerts:\n  email: {to: a@b.no, from: c@d.no, smtp_port: 0}\n", "smtp_port: 0"),
    ],
)
def test_alert_settings_mistakes_name_the_key(tmp_path, alerts_yaml, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _cooperation(tmp_path, alerts_yaml)
