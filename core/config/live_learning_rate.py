"""A learning rate typed into the Train page's live field while a training runs: read, or refused with why.

The field is text, not a number widget: a browser's number field refuses an out-of-range entry on
its own and sends nothing, so the server could only repeat the rate it already had. Here every
entry reaches the server, and a refusal names the value and the allowed range.
"""

from __future__ import annotations

import math

from core.config.train_form import FORM_FIELDS

MIN_LEARNING_RATE, MAX_LEARNING_RATE = FORM_FIELDS["learning_rate"].low, FORM_FIELDS["learning_rate"].high  # the form's, as commands check

SHOWN_CHARACTERS = 40  # of a refused entry, in its message


def parse_learning_rate(text: str) -> float:
    """The learning rate `text` asks for.

    Args:
        text: what was typed, e.g. `"0.002"` or `"2e-3"`.

    Returns:
        A finite float in `[MIN_LEARNING_RATE, MAX_LEARNING_RATE]`, the Train form's range (a command checks the same).

    Raises:
        ValueError: the entry is not such a number; the message quotes it and says the range.
    """
    typed = str(text).strip()
    shown = typed if len(typed) <= SHOWN_CHARACTERS else typed[:SHOWN_CHARACTERS] + "…"
    allowed = f"Type a number from {MIN_LEARNING_RATE:g} to {MAX_LEARNING_RATE:g}, e.g. 0.001."
    try:
        value = float(typed)
    except (ValueError, OverflowError):
        raise ValueError(f"Learning rate {shown!r} was not set: it is not a number. {allowed}") from None
    if not math.isfinite(value):
        raise ValueError(f"Learning rate {shown!r} was not set: it is not a finite number. {allowed}")
    if value <= 0:
        raise ValueError(f"Learning rate {shown} was not set: it must be above 0. {allowed}")
    if value < MIN_LEARNING_RATE:
        raise ValueError(f"Learning rate {shown} was not set: it is below the smallest allowed, {MIN_LEARNING_RATE:g}. {allowed}")
    if value > MAX_LEARNING_RATE:
        raise ValueError(f"Learning rate {shown} was not set: it is above the largest allowed, {MAX_LEARNING_RATE:g}. {allowed}")
    return value
