"""The load plan: which CDR goes by which channel, which are sent twice, which are bad, in what order.

Distinct CDRs by number ``i``: 15 % FreeSWITCH JSON POSTs, 5 % XML POSTs, 70 % bulk REST batches, 10 %
CSV file imports. Every tenth CDR is sent a second time later (half of the pushed ones again by push,
half through the bulk API under the same switch: another source, the same identity). One record in 200
has a bad twin in the same channel. The order is shuffled; a re-send always comes after its original.
"""

from __future__ import annotations

import dataclasses
import random

from faults_cdrs import BULK_SWITCHES, SWITCHES

BULK_BATCH = 500
CSV_FILE_LINES = 2_500


@dataclasses.dataclass(frozen=True)
class Item:
    """One record to send: CDR ``number`` of ``switch`` (or its bad twin ``marker``)."""

    number: int
    switch: tuple[str, str]
    source: str  # json, xml, bulk, csv: how the CDR itself is built (csv: whole seconds)
    marker: str = ""  # non-empty: a bad record, rejected with a reason
    variant: int = 0


@dataclasses.dataclass
class Submission:
    """One request: a push of one item, a bulk batch or a CSV file of several."""

    channel: str  # json, xml, bulk, csv
    items: list[Item]
    name: str = ""


@dataclasses.dataclass
class Plan:
    push: list[Submission]
    bulk: list[Submission]
    csv: list[Submission]
    distinct: int
    resends: int
    bad: int

    def channels(self) -> dict[str, list[Submission]]:
        return {"push": self.push, "bulk": self.bulk, "csv": self.csv}


def channel_of(i: int) -> str:
    slot = i % 20
    return "json" if slot < 3 else "xml" if slot == 3 else "bulk" if slot < 18 else "csv"


def build(distinct: int, *, seed: int) -> Plan:
    rng = random.Random(seed)
    keyed: dict[str, list[tuple[float, Item]]] = {"push": [], "bulk": [], "csv": []}
    resends = bad = 0
    for i in range(distinct):
        source = channel_of(i)
        switch = BULK_SWITCHES[i % 2] if source == "bulk" else SWITCHES[source]
        lane = "push" if source in ("json", "xml") else source
        order = rng.random()
        original = Item(i, switch, source)
        keyed[lane].append((order, original))
        if (i // 20) % 10 == 7:  # re-sent later: same identity (a tenth of every channel)
            resends += 1
            again = order + rng.random() * (1 - order)
            cross = lane == "push" and (i // 200) % 2 == 1
            keyed["bulk" if cross else lane].append((again, original))
        if (i // 20) % 200 == 13:
            bad += 1
            marker = f"bad-{source}-{i:07d}"
            keyed[lane].append((rng.random(), Item(i, switch, source, marker=marker, variant=i // 4000)))
    push = [Submission(item.source, [item]) for _, item in sorted(keyed["push"], key=lambda pair: pair[0])]
    return Plan(push, _batches(keyed["bulk"]), _files(keyed["csv"]), distinct, resends, bad)


def _batches(keyed: list[tuple[float, Item]]) -> list[Submission]:
    """Batches of one switch each (the bulk API takes one switch per request), in the order of their first."""
    by_switch: dict[str, list[tuple[float, Item]]] = {}
    for order, item in sorted(keyed, key=lambda pair: pair[0]):
        by_switch.setdefault(item.switch[0], []).append((order, item))
    batches: list[tuple[float, Submission]] = []
    for switch_id, items in by_switch.items():
        for start in range(0, len(items), BULK_BATCH):
            chunk = items[start : start + BULK_BATCH]
            batches.append((chunk[0][0], Submission("bulk", [item for _, item in chunk], switch_id)))
    return [submission for _, submission in sorted(batches, key=lambda pair: pair[0])]


def _files(keyed: list[tuple[float, Item]]) -> list[Submission]:
    ordered = [item for _, item in sorted(keyed, key=lambda pair: pair[0])]
    return [
        Submission("csv", ordered[start : start + CSV_FILE_LINES], f"faults-{start // CSV_FILE_LINES + 1:02d}.csv")
        for start in range(0, len(ordered), CSV_FILE_LINES)
    ]
