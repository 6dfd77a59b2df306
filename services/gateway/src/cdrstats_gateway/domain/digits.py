"""Whole numbers typed into URLs, forms and cursors, checked before ``int()``.

``str.isdigit()`` accepts '²' and '①', which ``int()`` refuses, and ``int()`` also refuses texts of
more than 4300 digits: a check that ends in ``int(text)`` must use ``plain_digits`` instead, or a
user's typo becomes a 500.
"""

from __future__ import annotations

MAX_DIGITS = 18  # every value below 10**18 fits an int64 (ids, limits, epoch microseconds)


def plain_digits(text: str) -> bool:
    """ASCII digits only, 1 to 18 of them: ``int(text)`` cannot fail and fits an int64."""
    return text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS
