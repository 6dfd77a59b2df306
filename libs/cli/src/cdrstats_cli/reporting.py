"""``cdrstats reporting rebuild``: the reporting service's maintenance commands (its code does the work)."""

from __future__ import annotations


def main(argv: list[str]) -> int:
    """Dispatch ``cdrstats reporting <command> ...`` to cdrstats_reporting, imported only when used."""
    if not argv or argv[0] != "rebuild":
        print("usage: cdrstats reporting rebuild [--force] [--batch-size N]")
        return 2
    from cdrstats_reporting import rebuild

    return rebuild.main(argv[1:])
