"""Notifications to the procurement unit (`alerts:` in cooperation.yml): a rejected
delivery, a member overdue, a failed run, a failed data test.

    alerts:
      email: {to: [innkjop@host.no], from: samkjop@host.no, smtp_host: smtp.host.no,
              smtp_port: 587, starttls: true,
              username_env: SAMKJOP_SMTP_USER, password_env: SAMKJOP_SMTP_PASSWORD}
      webhook: {url: https://chat.example/hooks/abc}
      link: http://samkjop.host.no:3000        # the Dagster UI, for links to runs
      on: [rejected_delivery, overdue_member, failed_run, failed_test]   # default: all

What one run (or one sensor tick) has to say goes out together: one e-mail, one webhook
POST (JSON). An alert that cannot be sent never fails the run: `send_alerts` returns the
problems, which the caller prints and logs. An overdue member is announced once when it
becomes overdue, not on every run (`<state folder>/alerts_overdue.json`).
"""

from __future__ import annotations

import json
import os
import smtplib
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from pathlib import Path

from pipelines.settings import Alerts, Cooperation

_TITLES = {
    "rejected_delivery": "delivery rejected",
    "overdue_member": "member overdue",
    "failed_run": "run failed",
    "failed_test": "data test failed",
}
_OVERDUE_STATE = "alerts_overdue.json"


@dataclass(frozen=True)
class Alert:
    """One thing the unit must know: what happened, to which member and file, why, and
    where to look (a link to the run in the Dagster UI, else the run's log file)."""

    event: str  # one of settings.ALERT_EVENTS
    reason: str
    member_id: str | None = None
    member_name: str | None = None
    file: str | None = None
    run_id: str | None = None
    log: str | None = None

    def link(self, alerts: Alerts) -> str | None:
        if alerts.link and self.run_id:
            return f"{alerts.link}/runs/{self.run_id}"
        return self.log

    def text(self, alerts: Alerts) -> str:
        member = f" {self.member_id} {self.member_name or ''}".rstrip() if self.member_id else ""
        lines = [f"{_TITLES[self.event]}:{member}"]
        lines += [f"  file: {self.file}"] if self.file else []
        lines.append(f"  reason: {self.reason}")
        link = self.link(alerts)
        lines += [f"  see: {link}"] if link else []
        return "\n".join(lines)


def _subject(cooperation: Cooperation, alerts: list[Alert]) -> str:
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[alert.event] = counts.get(alert.event, 0) + 1
    parts = [f"{n} × {_TITLES[event]}" if n > 1 else _TITLES[event] for event, n in counts.items()]
    return f"Samkjøp {cooperation.name}: {', '.join(parts)}"


def _email(cooperation: Cooperation, alerts: list[Alert]) -> None:
    channel = cooperation.alerts.email
    message = EmailMessage()
    message["Subject"] = _subject(cooperation, alerts)
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message.set_content(
        "\n\n".join(alert.text(cooperation.alerts) for alert in alerts)
        + f"\n\n-- \nSamkjøp, {cooperation.config_path}\n"
    )
    timeout = cooperation.alerts.timeout_seconds
    with smtplib.SMTP(channel.smtp_host, channel.smtp_port, timeout=timeout) as smtp:
        if channel.starttls:
            smtp.starttls()
        if channel.username_env:
            smtp.login(
                os.environ.get(channel.username_env, ""),
                os.environ.get(channel.password_env or "", ""),
            )
        smtp.send_message(message)


def _webhook(cooperation: Cooperation, alerts: list[Alert]) -> None:
    body = {
        "cooperation": cooperation.name,
        "summary": _subject(cooperation, alerts),
        "text": "\n\n".join(alert.text(cooperation.alerts) for alert in alerts),
        "alerts": [{**asdict(alert), "link": alert.link(cooperation.alerts)} for alert in alerts],
    }
    request = urllib.request.Request(
        cooperation.alerts.webhook_url,
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=cooperation.alerts.timeout_seconds) as reply:
        reply.read()


def send_alerts(cooperation: Cooperation, alerts: list[Alert]) -> list[str]:
    """Send the alerts of the events the cooperation asked for through each configured
    channel; return what could not be sent, one line per channel (never raises)."""
    settings = cooperation.alerts
    wanted = [alert for alert in alerts if alert.event in settings.events]
    if not wanted or not settings.configured:
        return []
    problems = []
    channels = [("e-mail", _email)] if settings.email else []
    channels += [("webhook", _webhook)] if settings.webhook_url else []
    for name, send in channels:
        try:
            send(cooperation, wanted)
        except (OSError, smtplib.SMTPException, urllib.error.URLError, ValueError) as error:
            problems.append(f"the {name} alert could not be sent: {_first_line(error)}")
    return problems


def alerts_from_run(cooperation: Cooperation, run_id: str, events, log: str | None = None):
    """What one Dagster run has to tell the unit, from its events (`result.all_events` of
    an executed job, or the DagsterEvents of a finished run read from the instance): each
    rejected delivery (the ingestion's rejection messages, per member), each failed data
    test of severity error, and the run's failure (each failed step and its error)."""
    from pipelines.defs.ingest.assets import REJECTION_MESSAGES
    from pipelines.failures import STEP_NAMES, error_line

    alerts: list[Alert] = []
    failures: list[str] = []
    for event in events:
        if event.is_step_materialization:
            member_id = event.partition
            metadata = event.step_materialization_data.materialization.metadata
            messages = metadata.get(REJECTION_MESSAGES)
            if member_id and messages is not None and _is_first_table(event):
                alerts += [
                    _rejected(cooperation, member_id, message, run_id, log)
                    for message in messages.value
                ]
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed and evaluation.severity.value == "ERROR":
                check = evaluation.asset_check_key
                reason = f"{check.name} on {check.asset_key.to_user_string()}"
                alerts.append(Alert("failed_test", reason, run_id=run_id, log=log))
        elif event.is_step_failure and event.step_failure_data:
            step = STEP_NAMES.get(event.step_key, f"step {event.step_key}")
            failures.append(f"{step} failed: {error_line(event.step_failure_data.error)}")
    if failures:
        alerts.append(Alert("failed_run", "; ".join(failures), run_id=run_id, log=log))
    return alerts


def _is_first_table(event) -> bool:
    """The ingestion reports its deliveries on each raw table it writes: read them once."""
    from pipelines.warehouse import DELIVERY_TABLES

    return event.asset_key.path[-1] == DELIVERY_TABLES[0]


def _rejected(cooperation, member_id: str, message: str, run_id: str, log: str | None) -> Alert:
    file = message.split(": ", 1)[0] if ": " in message else None
    name = next((m.name for m in cooperation.members if m.id == member_id), None)
    return Alert("rejected_delivery", message, member_id, name, file, run_id, log)


def newly_overdue(cooperation: Cooperation, overdue: dict[str, str]) -> list[Alert]:
    """Alerts for the members that became overdue since the last call (member id →
    why it is overdue); a member that delivered again is forgotten, so that it is announced
    again the next time it falls behind."""
    state = cooperation.state_dir / _OVERDUE_STATE
    known = _read_ids(state)
    alerts = [
        Alert(
            "overdue_member",
            reason,
            member_id=member_id,
            member_name=cooperation.member(member_id).name,
        )
        for member_id, reason in sorted(overdue.items())
        if member_id not in known
    ]
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps(sorted(overdue)), encoding="utf-8")
    return alerts


def _read_ids(path: Path) -> set[str]:
    try:
        return set(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return set()


def _first_line(error: BaseException) -> str:
    text = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    return f"{type(error).__name__}{': ' + text if text else ''}"[:300]
