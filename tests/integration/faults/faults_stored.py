"""What ingest holds against what the senders were told: stored CDRs and kept rejects.

- Every identity (switch, uuid) answered accepted or duplicate is stored, exactly once, and nothing else
  is; each stored CDR still says what was sent (start, billsec, account code).
- Every bad record answered "rejected" is in the rejects store with the reason it was answered with;
  a bad record kept more than once is allowed only if its request was retried after a failure that may
  have reached the product (the first answer was lost), and is counted.
"""

from __future__ import annotations

import collections
from typing import Any

import faults_cdrs as cdrs
from faults_load import Ledger
from faults_plan import Plan
from faults_rollups import Stored


def check_stored(ledger: Ledger, plan: Plan, stored: list[Stored], seed: int, now_us: int) -> dict[str, Any]:
    problems: list[str] = []
    keys = collections.Counter((c.switch_id, c.uuid) for c in stored)
    twice = [key for key, count in keys.items() if count > 1]
    if twice:
        problems.append(f"{len(twice)} identities stored more than once, e.g. {twice[:5]}")
    if len({c.id for c in stored}) != len(stored):
        problems.append("CDR ids are not unique")
    expected = set(ledger.stored)
    missing, extra = expected - set(keys), set(keys) - expected
    if missing:
        problems.append(f"{len(missing)} answered CDRs not stored, e.g. {sorted(missing)[:5]}")
    if extra:
        problems.append(f"{len(extra)} stored CDRs nobody was told about, e.g. {sorted(extra)[:5]}")
    planned = {
        (item.switch[0], cdrs.uuid_of(item.switch[0], item.number, seed)): item
        for lane in plan.channels().values()
        for submission in lane
        for item in submission.items
        if not item.marker
    }
    if set(planned) - expected:
        problems.append(f"{len(set(planned) - expected)} planned CDRs have no answer")
    altered = []
    for cdr in stored:
        item = planned.get((cdr.switch_id, cdr.uuid))
        if item is None:
            continue
        sent = cdrs.make_cdr(item.number, item.switch, now_us, seed=seed, whole_seconds=item.source == "csv")
        if (cdr.start_us, cdr.billsec_ms, cdr.accountcode) != (
            sent["start_time_us"],
            sent["billsec_ms"],
            sent["accountcode"],
        ):
            altered.append(cdr.uuid)
    if altered:
        problems.append(f"{len(altered)} stored CDRs differ from what was sent, e.g. {altered[:5]}")
    return {
        "stored": len(stored),
        "distinct_identities_answered": len(expected),
        "planned_distinct": plan.distinct,
        "alarm_cdrs": sum(1 for key in expected if key not in planned),
        "resends_planned": plan.resends,
        "answers": dict(ledger.answers),
        "problems": problems,
    }


def check_rejects(ledger: Ledger, plan: Plan, rejects: list[dict[str, Any]]) -> dict[str, Any]:
    problems: list[str] = []
    markers = {item.marker for lane in plan.channels().values() for sub in lane for item in sub.items if item.marker}
    found: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for reject in rejects:
        for marker in markers:
            if marker in reject["raw"]:
                found[marker].append(reject)
    unanswered = markers - set(ledger.rejected)
    if unanswered:
        problems.append(f"{len(unanswered)} bad records never answered rejected, e.g. {sorted(unanswered)[:5]}")
    kept_twice = 0
    for marker, reason in ledger.rejected.items():
        kept = found.get(marker, [])
        if not kept:
            problems.append(f"{marker}: not in the rejects store (answered {reason!r})")
        elif any(r["reason"] != reason or not r["reason"] for r in kept):
            problems.append(f"{marker}: kept with {[r['reason'] for r in kept]}, answered {reason!r}")
        if len(kept) > 1:
            kept_twice += 1
            if marker not in ledger.ambiguous_markers:
                problems.append(f"{marker}: kept {len(kept)} times though its request was answered the first time")
    unknown = [r for r in rejects if not any(m in r["raw"] for m in markers)]
    if unknown:
        problems.append(f"{len(unknown)} rejects of no bad record, e.g. {[r['reason'] for r in unknown[:3]]}")
    return {
        "bad_records_sent": len(markers),
        "answered_rejected": len(ledger.rejected),
        "rejects_stored": len(rejects),
        "bad_records_kept_more_than_once": kept_twice,
        "by_source": dict(collections.Counter(r["source"] for r in rejects)),
        "problems": problems,
    }
