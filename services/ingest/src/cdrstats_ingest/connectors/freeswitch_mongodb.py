"""A MongoDB collection written by FreeSWITCH mod_cdr_mongodb (documents shaped like mod_json_cdr's).

Watermark: the last ``_id`` read. mod_cdr_mongodb creates each ObjectId on the switch when it
inserts, and an ObjectId starts with its creation second, so ``_id`` order is insertion order
across one switch. Only ids older than ``SETTLE_S`` are read: several switches (or an insert
in flight) may land a slightly older id after a newer one, and must still sort after the watermark.
"""

from __future__ import annotations

import datetime as dt
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from bson import ObjectId
from pymongo import MongoClient

from cdrstats_ingest.connectors.base import Fetched, SourceRow
from cdrstats_ingest.connectors.errors import ConnectorError
from cdrstats_ingest.domain import freeswitch_json
from cdrstats_ingest.domain.normalise import validate
from cdrstats_ingest.domain.switch import SwitchConfig

SOURCE = "mongo_import"
SETTLE_S = 10


class FreeswitchMongoSource:
    source = SOURCE

    def __init__(
        self,
        switch: SwitchConfig,
        *,
        client: MongoClient[dict[str, Any]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        settings = switch.connector
        parts = urllib.parse.urlsplit(settings.dsn)
        if parts.scheme not in ("mongodb", "mongodb+srv"):
            raise ConnectorError(f"connector.dsn: expected mongodb://host/database, got scheme {parts.scheme!r}")
        database, _, collection = (settings.table or "").rpartition(".")
        database = database or parts.path.strip("/")
        if not database:
            raise ConnectorError("connector.dsn: no database (mongodb://host/DATABASE, or table DATABASE.collection)")
        self.switch = switch
        self.client = client or MongoClient(settings.dsn, serverSelectionTimeoutMS=10_000, tz_aware=True)
        self.collection = self.client[database][collection or "cdr"]
        self.where = f"mongodb://{parts.hostname or 'localhost'}/{database}.{collection or 'cdr'}"
        self.clock = clock

    @property
    def fingerprint(self) -> str:
        return f"freeswitch_mongodb {self.where}"

    @property
    def needs_thread(self) -> bool:
        return False  # pymongo's sockets are green under eventlet

    def fetch(self, watermark: dict[str, Any], limit: int) -> Fetched:
        horizon = ObjectId.from_datetime(dt.datetime.fromtimestamp(self.clock() - SETTLE_S, dt.UTC))
        bounds: dict[str, Any] = {"$lt": horizon}
        if watermark.get("_id"):
            bounds["$gt"] = ObjectId(str(watermark["_id"]))
        docs = list(self.collection.find({"_id": bounds}).sort("_id", 1).limit(int(limit)))
        rows = [SourceRow(f"mongodb {self.collection.name} _id {doc['_id']}", doc) for doc in docs]
        new_watermark = {"_id": str(docs[-1]["_id"])} if docs else dict(watermark)
        return Fetched(rows, new_watermark, more=len(docs) >= limit)

    def to_cdr(self, row: SourceRow) -> dict[str, Any]:
        doc = {k: v for k, v in row.raw.items() if k != "_id"}
        cdr = freeswitch_json.normalise(doc, self.switch)
        cdr["source"] = SOURCE
        cdr["extra"] = {**cdr["extra"], "mongodb_id": str(row.raw["_id"])}
        validate(cdr)
        return cdr

    def close(self) -> None:
        self.client.close()
