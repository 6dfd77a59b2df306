"""Read the environment once, report every problem at once.

Each service declares a frozen dataclass and builds it with an ``EnvReader``;
``EnvReader.finish()`` raises one ``SettingsError`` listing every missing or
malformed variable instead of failing on the first.
"""

from __future__ import annotations

import builtins
import os
import pathlib
import sys
from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: days every consumer remembers an applied event id (cdrstats_common.consumer); one setting for all services
PROCESSED_EVENT_RETENTION = "CDRSTATS_PROCESSED_EVENT_RETENTION_DAYS"


class SettingsError(Exception):
    """One or more environment variables are missing or malformed."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid settings:\n  " + "\n  ".join(problems))


class EnvReader:
    """Collects typed values from an environment mapping, remembering every error."""

    def __init__(self, environ: Mapping[builtins.str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self.problems: list[builtins.str] = []

    def _raw(self, name: builtins.str, default: builtins.str | None) -> builtins.str | None:
        value = self.environ.get(name)
        if value is None or value == "":
            if default is None:
                self.problems.append(f"{name}: required but not set")
            return default
        return value

    def str(self, name: builtins.str, default: builtins.str | None = None) -> builtins.str:
        value = self._raw(name, default)
        return "" if value is None else value

    def int(
        self,
        name: builtins.str,
        default: builtins.int | None = None,
        *,
        minimum: builtins.int = 0,
        maximum: builtins.int = 2**31,
    ) -> builtins.int:
        raw = self._raw(name, None if default is None else str(default))
        if raw is None:
            return 0
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name}: expected an integer, got {raw!r}")
            return default or 0
        if not minimum <= value <= maximum:
            self.problems.append(f"{name}: expected {minimum}..{maximum}, got {value}")
        return value

    def float(self, name: builtins.str, default: builtins.float) -> builtins.float:
        raw = self._raw(name, str(default))
        try:
            return float(raw or default)
        except ValueError:
            self.problems.append(f"{name}: expected a number, got {raw!r}")
            return default

    def bool(self, name: builtins.str, default: builtins.bool) -> builtins.bool:
        raw = self._raw(name, "true" if default else "false") or ""
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        self.problems.append(f"{name}: expected true or false, got {raw!r}")
        return default

    def address(self, name: builtins.str, default: builtins.str) -> builtins.str:
        """A host:port pair."""
        raw = self.str(name, default)
        host, sep, port = raw.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            self.problems.append(f"{name}: expected host:port, got {raw!r}")
        return raw

    def choice(self, name: builtins.str, default: builtins.str, choices: tuple[builtins.str, ...]) -> builtins.str:
        raw = self.str(name, default)
        if raw not in choices:
            self.problems.append(f"{name}: expected one of {', '.join(choices)}, got {raw!r}")
        return raw

    def store_url(self, name: builtins.str, default: builtins.str) -> builtins.str:
        raw = self.str(name, default)
        if not (raw.startswith("sqlite:///") or raw.startswith("mongodb://") or raw.startswith("mongodb+srv://")):
            self.problems.append(f"{name}: expected sqlite:///path or mongodb://host/db, got {raw!r}")
        return raw

    def time_zone(self, name: builtins.str, default: builtins.str = "UTC") -> builtins.str:
        import zoneinfo

        raw = self.str(name, default)
        try:
            zoneinfo.ZoneInfo(raw)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.problems.append(f"{name}: unknown time zone {raw!r}")
        return raw

    def log_level(self, name: builtins.str = "CDRSTATS_LOG_LEVEL") -> builtins.str:
        raw = self.str(name, "INFO").upper()
        if raw not in LOG_LEVELS:
            self.problems.append(f"{name}: expected one of {', '.join(LOG_LEVELS)}, got {raw!r}")
        return raw

    def admin_port(self) -> builtins.int:
        """CDRSTATS_ADMIN_PORT: /healthz and /metrics of the process (0 = off)."""
        return self.int("CDRSTATS_ADMIN_PORT", 0, maximum=65535)

    def http_read_timeout(self) -> builtins.float:
        """CDRSTATS_HTTP_READ_TIMEOUT_S: how long a public HTTP server waits for a request's headers or body."""
        value = self.float("CDRSTATS_HTTP_READ_TIMEOUT_S", 30.0)
        if not 0.5 <= value <= 3600:
            self.problems.append(f"CDRSTATS_HTTP_READ_TIMEOUT_S: expected 0.5..3600 seconds, got {value:g}")
        return value

    def processed_event_retention_days(self) -> builtins.int:
        """CDRSTATS_PROCESSED_EVENT_RETENTION_DAYS: applied event ids are pruned after this many days (0 = kept
        forever) and an event older than that is refused (``consumer.check_fresh``): default 30."""
        return self.int(PROCESSED_EVENT_RETENTION, 30, minimum=0, maximum=36_500)

    def finish(self) -> None:
        if self.problems:
            raise SettingsError(self.problems)


def data_dir(reader: EnvReader) -> pathlib.Path:
    return pathlib.Path(reader.str("CDRSTATS_DATA_DIR", "var")).resolve()


def default_store_url(reader: EnvReader, service: str) -> str:
    """sqlite:///<data dir>/<service>.db unless CDRSTATS_<SERVICE>_STORE_URL says otherwise."""
    return reader.store_url(f"CDRSTATS_{service.upper()}_STORE_URL", f"sqlite:///{data_dir(reader) / service}.db")


def sqlite_path(store_url: str) -> pathlib.Path:
    if not store_url.startswith("sqlite:///"):
        raise ValueError(f"not a SQLite store URL: {store_url}")
    return pathlib.Path(store_url[len("sqlite:///") :])


def load_or_exit(factory: Callable[[], T]) -> T:
    """Build a process's settings; on errors print every problem and exit 2 (for ``main()`` functions)."""
    try:
        return factory()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
