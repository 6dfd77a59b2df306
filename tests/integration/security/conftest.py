"""The security checks that need real processes reuse the end-to-end tests' ``Product`` (``cdrstats run``)."""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "e2e"))
