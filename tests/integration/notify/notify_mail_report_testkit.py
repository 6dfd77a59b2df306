"""Known CDRs around the 25-hour 2025-10-26 in Europe/Paris, a brute-force recomputation of every number a
mail report shows from them, and a parser of the report's text part (test_notify_mail_report.py uses them)."""

from __future__ import annotations

import datetime as dt
import random
import re
import zoneinfo
from typing import Any

from cdrstats_common.cdr import new_cdr

ZONE_NAME = "Europe/Paris"
ZONE = zoneinfo.ZoneInfo(ZONE_NAME)
TENANT = "customer:7"
TENANT_NAME = "Acme <Telecom> & Co"
NASTY_CALLER = '"><img src=x onerror=alert(1)>'
NUMBERS = {"FR": "+33612345678", "GB": "+442079460000", "US": "+14155550100", "DE": "+4930123456",
           "ES": "+34911234567", "IT": "+390612345678", "": "12345"}  # fmt: skip
COUNTRY_WEIGHTS = {"FR": 30, "GB": 20, "US": 15, "DE": 10, "ES": 8, "IT": 5, "": 3}
CAUSES = {17: "BUSY", 19: "NO_ANSWER", 21: "FAILED", 34: "CONGESTION", 41: "FAILED", 1: "FAILED"}


def local_us(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=ZONE).timestamp() * 1_000_000)


DAY_START, DAY_END = local_us(2025, 10, 26), local_us(2025, 10, 27)  # 25 hours
PREV_START = local_us(2025, 10, 25)
WEEK_START, WEEK_END, PREV_WEEK_START = local_us(2025, 10, 20), local_us(2025, 10, 27), local_us(2025, 10, 13)


def make_cdrs() -> list[dict[str, Any]]:
    rng = random.Random(20251026)
    starts = [rng.randrange(local_us(2025, 10, 11), local_us(2025, 10, 29)) for _ in range(900)]
    starts += [rng.randrange(local_us(2025, 10, 25), local_us(2025, 10, 27)) for _ in range(200)]
    # the edges of the day, of the previous day and of the weeks, and the repeated hour 02:00-03:00
    for edge in (DAY_START, DAY_END, PREV_START, WEEK_START, WEEK_END, PREV_WEEK_START):
        starts += [edge - 1, edge, edge + 1]
    starts += [DAY_START + 2 * 3_600_000_000 + 1_800_000_000, DAY_START + 3 * 3_600_000_000 + 1_800_000_000]
    cdrs = []
    for index, start in enumerate(sorted(set(starts))):  # distinct starts: "the last 10" has no ties
        country = rng.choices(list(COUNTRY_WEIGHTS), weights=list(COUNTRY_WEIGHTS.values()))[0]
        answered = rng.random() < 0.55
        billsec = rng.choice([0, rng.randrange(1_000, 900_000)]) if answered else 0
        cause = 16 if answered else rng.choice(list(CAUSES))
        pdd = rng.randrange(500, 4_000)
        cdrs.append(
            new_cdr(
                switch_id=rng.choice(["s1", "s2"]),
                source="api",
                uuid=f"u{index}",
                accountcode=rng.choice(["a", "b", "c"]),
                direction="outbound",
                caller_id_number=NASTY_CALLER if start == DAY_END - 1 else f"+3314{rng.randrange(10**6):06d}",
                destination_number=NUMBERS[country],
                destination_e164=NUMBERS[country] if country else "",
                country=country,
                start_time_us=start,
                answer_time_us=start + pdd * 1000 if answered else 0,
                end_time_us=start + (pdd + billsec) * 1000,
                duration_ms=pdd + billsec,
                billsec_ms=billsec,
                answered=answered,
                disposition="ANSWERED" if answered else CAUSES[cause],
                hangup_cause=cause,
            )
        )
    return cdrs


# -- brute force -------------------------------------------------------------------------------------


def selected(cdrs: list[dict[str, Any]], start: int, end: int, codes: set[str] | None, switch: str) -> list[dict]:
    return [
        c for c in cdrs
        if start <= c["start_time_us"] < end and (codes is None or c["accountcode"] in codes)
        and (not switch or c["switch_id"] == switch)
    ]  # fmt: skip


def sums(cdrs: list[dict[str, Any]], hours: float) -> dict[str, float]:
    attempts = len(cdrs)
    answered = sum(1 for c in cdrs if c["answer_time_us"] > 0 or c["billsec_ms"] > 0)
    billsec = sum(c["billsec_ms"] for c in cdrs)
    return {
        "attempts": attempts,
        "answered": answered,
        "asr": 100.0 * answered / attempts if attempts else 0.0,
        "acd": billsec / 1000.0 / answered if answered else 0.0,
        "ach": attempts / hours,
        "minutes": billsec / 60_000,
        "billsec": billsec,
    }


DECIMALS = {"attempts": 0, "answered": 0, "asr": 1, "acd": 1, "ach": 2, "minutes": 1}


def expected_totals(now: dict[str, float], before: dict[str, float]) -> dict[str, tuple[str, ...]]:
    out = {}
    for key, places in DECIMALS.items():
        delta = now[key] - before[key]
        arrow = "\u2191" if delta > 0 else "\u2193" if delta < 0 else "="
        pct = "n/a" if not before[key] else f"{100.0 * delta / before[key]:+.1f} %"
        out[key] = (f"{now[key]:,.{places}f}", f"{before[key]:,.{places}f}", arrow, f"{delta:+,.{places}f}", pct)
    return out


def expected_countries(cdrs: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    groups: dict[str, list[dict]] = {}
    for c in cdrs:
        groups.setdefault(c["country"], []).append(c)
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))[:5]
    out = []
    for country, rows in ranked:
        s = sums(rows, 1)
        share = 100.0 * len(rows) / len(cdrs)
        out.append((country or "--", f"{len(rows):,}", f"{share:,.1f}", f"{s['asr']:,.1f}", f"{s['acd']:,.1f}",
                    f"{s['minutes']:,.1f}"))  # fmt: skip
    return out


def expected_causes(cdrs: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    counts: dict[int, int] = {}
    for c in cdrs:
        counts[c["hangup_cause"]] = counts.get(c["hangup_cause"], 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [(str(code), f"{n:,}", f"{100.0 * n / len(cdrs):,.1f}") for code, n in ranked]


def expected_calls(cdrs: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    newest = sorted(cdrs, key=lambda c: -c["start_time_us"])[:10]
    return [
        (
            dt.datetime.fromtimestamp(c["start_time_us"] // 1_000_000, tz=dt.UTC).astimezone(ZONE).strftime("%Y-%m-%d %H:%M:%S"),
            c["switch_id"], c["caller_id_number"], c["destination_e164"] or c["destination_number"],
            c["country"] or "--", c["disposition"], f"{c['billsec_ms'] / 1000:,.1f}", str(c["hangup_cause"]),
        )
        for c in newest
    ]  # fmt: skip


def expected(cdrs: list[dict], period: tuple[int, int, int], codes: set[str] | None, switch: str = "") -> dict:
    start, end, previous_start = period
    now = selected(cdrs, start, end, codes, switch)
    before = selected(cdrs, previous_start, start, codes, switch)
    assert len(now) > 20 and before, "the data set must exercise the report"
    return {
        "totals": expected_totals(sums(now, (end - start) / 3.6e9), sums(before, (start - previous_start) / 3.6e9)),
        "countries": expected_countries(now),
        "causes": expected_causes(now),
        "calls": expected_calls(now),
    }


# -- what the e-mail says ----------------------------------------------------------------------------

TOTAL = re.compile(r"^  (\w+):\s+([\d,.]+)(?: \S+)?\s+\(previous ([\d,.]+); (\S) ([+-][\d,.]+), ([+-][\d.]+ %|n/a)\)$")
COUNTRY = re.compile(r"^  (\S\S) (.*?)\s+attempts ([\d,]+), share ([\d.,]+) %, ASR ([\d.,]+) %, ACD ([\d.,]+) s, minutes ([\d.,]+)$")  # fmt: skip
CAUSE = re.compile(r"^\s+(\d+) (.+?)\s+([\d,]+)  ([\d.,]+) %$")
CALL = re.compile(r"^  (\S+ \S+)  (\S+)  (.+) -> (\S+)  (\S+)  (\S+)  billsec ([\d.,]+) s  cause (\d+) .+$")


def parse_text(text: str) -> dict[str, Any]:
    sections: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line and not line.startswith(" "):
            current = line.split(" ")[0] if not line.startswith("Top") else "Top"
            current = {"Last": "calls", "Top": "countries", "Hangup": "causes", "Totals": "totals"}.get(current, "")
        elif current and line.strip():
            sections.setdefault(current, []).append(line)
    totals = {}
    for line in sections["totals"]:
        match = TOTAL.match(line)
        assert match, line
        totals[match[1].lower()] = match.groups()[1:]
    countries = [COUNTRY.match(line) for line in sections["countries"]]
    causes = [CAUSE.match(line) for line in sections["causes"]]
    calls = [CALL.match(line) for line in sections["calls"]]
    assert all(countries) and all(causes) and all(calls), text
    return {
        "totals": totals,
        "countries": [(m[1].strip(), *m.groups()[2:]) for m in countries if m],
        "causes": [(m[1], m[3], m[4]) for m in causes if m],
        "calls": [m.groups() for m in calls if m],
    }
