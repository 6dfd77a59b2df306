"""Alert e-mails: what they show (numbers, zone-local window, scope, link), escaping, and the MIME shape."""

from __future__ import annotations

import copy
import email
import email.policy
from typing import Any

import pytest

from cdrstats_notify import rendering
from cdrstats_notify.domain.email import build_message

ALARM_DATA: dict[str, Any] = {
    "alarm": {
        "id": "alarm-42",
        "name": "ASR UK mobiles",
        "owner": "customer:7",
        "metric": "asr",
        "hangup_cause": 0,
        "condition": "lt",
        "threshold": 35.0,
        "baseline": "",
        "window": "last_hour",
    },
    "scope": {"kind": "country", "value": "GB"},
    "window": {"start": "2026-07-01T08:00:00Z", "end": "2026-07-01T09:00:00Z"},
    "value": 27.25,
    "baseline": None,
    "threshold": 35.0,
    "attempts": 1234,
    "evaluation_id": "ev-1",
    "state": "FIRING",
    "message": "ASR 27.25 % is below 35 %",
    "link": "/cdrs?from=2026-07-01T08%3A00%3A00Z&country=GB",
    "recipients": {"emails": ["noc@example.com"], "webhooks": ["https://hooks.example.com/x"]},
}


def alarm_data(**overrides: Any) -> dict[str, Any]:
    data = copy.deepcopy(ALARM_DATA)
    data.update(overrides)
    return data


def test_alarm_mail_shows_the_numbers_the_window_in_the_zone_and_the_link() -> None:
    mail = rendering.alarm("alarm_triggered", alarm_data(), zone="Europe/Paris", public_url="https://cdr.example.com")
    assert mail.subject == "[CDR-Stats] ALARM: ASR UK mobiles — ASR 27.25 %"
    link = "https://cdr.example.com/cdrs?from=2026-07-01T08%3A00%3A00Z&country=GB"
    for body in (mail.text, mail.html):
        assert "ASR UK mobiles" in body
        assert "27.25 %" in body
        assert "35 %" in body  # the threshold
        assert "2026-07-01 10:00:00" in body and "2026-07-01 11:00:00" in body  # CEST = UTC+2
        assert "Europe/Paris" in body
        assert "country GB" in body
        assert "1,234" in body  # attempts
        assert "below" in body
    assert f"The calls: {link}" in mail.text
    assert f'href="{link.replace("&", "&amp;")}"' in mail.html


def test_cleared_mail_and_a_relative_condition_with_a_baseline() -> None:
    data = alarm_data(value=80.5, baseline=120.0, threshold=25.0, state="OK")
    data["alarm"].update(metric="acd", condition="falls_by_pct", baseline="previous_window")
    mail = rendering.alarm("alarm_cleared", data, zone="UTC", public_url="")
    assert mail.subject == "[CDR-Stats] Cleared: ASR UK mobiles — ACD 80.5 s"
    assert "Baseline: 120 s (previous_window)" in mail.text
    assert "falls by more than (percent of the baseline) 25 %" in mail.text
    assert "Window: 2026-07-01 08:00:00 to 2026-07-01 09:00:00 (UTC)" in mail.text
    assert "/cdrs?from=" in mail.text  # no public URL: the path as given


def test_missing_optional_fields_render_as_dashes_not_errors() -> None:
    data = {"alarm": {"id": "a1"}, "value": None}
    mail = rendering.alarm("alarm_triggered", data, zone="UTC", public_url="")
    assert mail.subject == "[CDR-Stats] ALARM: a1 — Metric —"
    assert "Baseline: —" in mail.text
    assert "all calls" in mail.text


def test_an_event_without_an_alarm_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"data\.alarm"):
        rendering.alarm("alarm_triggered", {"value": 1}, zone="UTC", public_url="")


def test_html_is_escaped_and_text_is_not() -> None:
    data = alarm_data(message="<script>alert(1)</script> & more")
    data["alarm"]["name"] = "<b>ASR</b>"
    mail = rendering.alarm("alarm_triggered", data, zone="UTC", public_url="")
    assert "<script>" not in mail.html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in mail.html
    assert "&lt;b&gt;ASR&lt;/b&gt;" in mail.html
    assert "<script>alert(1)</script> & more" in mail.text


def _hit(index: int) -> dict[str, Any]:
    return {
        "hit_id": f"h{index}",
        "verdict": "black",
        "rule_id": "r1",
        "rule": "black prefix 882",
        "owner": "",
        "time": f"2026-07-01 10:00:{index:02d}",
        "switch_id": "sw1",
        "caller": "1001",
        "destination": f"+88212345{index:03d}",
        "country": "",
        "accountcode": "acme",
        "answered": index % 2 == 0,
        "link": f"https://cdr.example.com/cdrs/c{index}",
    }


def test_destination_mail_lists_hits_and_counts_the_rest() -> None:
    hits = [_hit(i) for i in range(25)]
    mail = rendering.destination(hits[:20], 25, "Europe/Paris")
    assert mail.subject == "[CDR-Stats] Black-list alert: 25 calls matching black prefix 882"
    assert "+88212345019" in mail.text and "+88212345020" not in mail.text
    assert "... and 5 more" in mail.text
    assert mail.html.count("https://cdr.example.com/cdrs/c") == 20
    single = rendering.destination([_hit(1)], 1, "UTC")
    assert "1 call matching" in single.subject


def test_worker_failure_mail() -> None:
    data = {
        "service": "reporting",
        "entrypoint": "on_cdrs_ingested",
        "failures": 3,
        "error": "KeyError: 'x'",
        "host": "h1",
    }
    mail = rendering.worker_failure(data, "2026-07-01T08:00:00Z", "Europe/Paris")
    assert mail.subject == "[CDR-Stats] Worker task failing: reporting.on_cdrs_ingested (3 in a row)"
    assert "KeyError: &#39;x&#39;" in mail.html and "KeyError: 'x'" in mail.text
    assert "2026-07-01 10:00:00" in mail.text
    with pytest.raises(ValueError, match="entrypoint"):
        rendering.worker_failure({"service": "x"}, None, "UTC")


def test_webhook_envelope_drops_the_recipients() -> None:
    envelope = {"schema": "cdrstats.alarm_triggered.v1", "id": "e1", "data": alarm_data()}
    body = rendering.webhook_body("alarm_triggered", [rendering.webhook_envelope(envelope)])
    assert body["kind"] == "alarm_triggered" and body["count"] == 1
    assert "recipients" not in body["events"][0]["data"]
    assert body["events"][0]["data"]["value"] == 27.25
    assert "recipients" in envelope["data"]  # the event itself is untouched


def test_mime_message_is_multipart_alternative_text_then_html() -> None:
    mail = rendering.alarm("alarm_triggered", alarm_data(), zone="UTC", public_url="")
    message = build_message(
        mail_from="cdr-stats@example.com",
        to="noc@example.com",
        subject=mail.subject,
        text=mail.text,
        html=mail.html,
        delivery_id="d-1",
        date=1_764_000_000,
    )
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in parsed.iter_parts()]  # type: ignore[attr-defined]
    assert parts == ["text/plain", "text/html"]
    assert parsed["Subject"] == mail.subject  # non-ASCII (the dash) survives the encoding
    assert parsed["Message-ID"] == "<d-1@example.com>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    text = next(parsed.iter_parts()).get_content()  # type: ignore[attr-defined]
    assert "27.25 %" in text
