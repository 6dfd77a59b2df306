"""Mail report -> (subject, text, HTML) with jinja2; the number formats every reader (and test) relies on.

The HTML is escaped automatically and carries inline styles only (mail clients drop <style>, external CSS,
images and scripts); the text part says the same for clients that show no HTML.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import urllib.parse
import zoneinfo

import jinja2

from cdrstats_notify.domain.mail_report_data import Change, ReportContent

ARROWS = {"up": "\u2191", "down": "\u2193", "same": "="}
#: decimals shown per metric; counts are whole numbers
DECIMALS = {"attempts": 0, "answered": 0, "asr": 1, "acd": 1, "ach": 2, "minutes": 1}


@dataclasses.dataclass(frozen=True)
class RenderedReport:
    subject: str
    text: str
    html: str


def number(value: float, decimals: int = 0) -> str:
    """12,345 / 57.1: thousands separated, a fixed number of decimals."""
    return f"{value:,.{decimals}f}"


def metric_value(change: Change, which: str = "current") -> str:
    value = change.current if which == "current" else change.previous
    return number(value, DECIMALS[change.key])


def signed_delta(change: Change) -> str:
    return f"{change.delta:+,.{DECIMALS[change.key]}f}"


def percent_change(change: Change) -> str:
    """ "+20.0 %", or "n/a" when the previous period had 0 (no base to compare with)."""
    percent = change.percent
    return "n/a" if percent is None else f"{percent:+.1f} %"


def local_time(time_us: int, time_zone: str) -> str:
    moment = dt.datetime.fromtimestamp(time_us / 1e6, tz=dt.UTC).astimezone(zoneinfo.ZoneInfo(time_zone))
    return moment.strftime("%Y-%m-%d %H:%M %Z")


def report_link(public_url: str, content: ReportContent) -> str:
    """The gateway's report-by-day page for the same days and switch, when the public URL is known."""
    if not public_url:
        return ""
    query = {"start": content.period.first.isoformat(), "end": content.period.last.isoformat()}
    if content.switch_id:
        query["switch"] = content.switch_id
    return f"{public_url}/reports/daily?{urllib.parse.urlencode(query)}"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cdrstats_notify", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(number=number, metric_value=metric_value, signed_delta=signed_delta)
    env.filters.update(percent_change=percent_change)
    env.globals["arrows"] = ARROWS
    return env


def subject_of(content: ReportContent) -> str:
    """One line: a tenant name with a line break must not inject mail headers."""
    return " ".join(f"[CDR-Stats] {content.title}".split())


def render(content: ReportContent) -> RenderedReport:
    env = environment()
    subject = subject_of(content)
    values = {
        "r": content,
        "subject": subject,
        "start": local_time(content.period.start_us, content.time_zone),
        "end": local_time(content.period.end_us, content.time_zone),
        "hours": number(content.period.hours, 0),
    }
    return RenderedReport(
        subject=subject,
        text=env.get_template("mail_report.txt.j2").render(values),
        html=env.get_template("mail_report.html.j2").render(values),
    )
