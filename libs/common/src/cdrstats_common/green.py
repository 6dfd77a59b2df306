"""eventlet set-up for nameko worker processes: call ``monkey_patch()`` before any other import."""

from __future__ import annotations

import warnings


def monkey_patch() -> None:
    """Patch the standard library for eventlet, without its deprecation banner in every worker log."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import eventlet

        eventlet.monkey_patch()
