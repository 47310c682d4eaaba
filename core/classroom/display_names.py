"""A visitor's display name on the class board: plain text, length-capped, unique within the class.

A name is shown as text everywhere (HTML-escaped on the board's cards, `markdown_text` in
markdown, a leading `=`/`+`/`-`/`@` defused in the CSV), so markdown or HTML in it is harmless and
allowed. What is refused: an empty name, one over `MAX_NAME_CHARACTERS`, control and invisible
format characters (line breaks, zero-width joiners, right-to-left overrides: they would let a
name look like another's), and a name another visitor of the class already holds (compared
without case and with runs of spaces as one).
"""

from __future__ import annotations

import unicodedata

MAX_NAME_CHARACTERS = 24


class DisplayNameError(ValueError):
    """A display name is refused; the message names the problem and the fix."""


def name_key(name: str) -> str:
    """The form two names are compared in: case-folded, spaces collapsed."""
    return " ".join(name.split()).casefold()


def check_display_name(name: object, visitor: str, names: dict[str, str]) -> str:
    """The name `visitor` asked for, tidied, if the class allows it.

    Args:
        name: what the visitor typed.
        visitor: their visitor id.
        names: the class's names so far, visitor id → name.

    Returns:
        The name with outer spaces removed and inner runs of spaces made one.

    Raises:
        DisplayNameError: empty, too long, holding control or invisible characters, or taken.
    """
    if not isinstance(name, str):
        raise DisplayNameError(f"A display name must be text. Received: {type(name).__name__}. Type a name.")
    invisible = sorted({f"U+{ord(c):04X}" for c in name if unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs")
                        and c not in " \t"})
    if invisible:
        raise DisplayNameError(f"A display name may not hold line breaks or invisible characters (found "
                               f"{', '.join(invisible[:3])}). Type the name again without them.")
    tidy = " ".join(name.split())
    if not tidy:
        raise DisplayNameError("The display name is empty. Type a name of 1 to "
                               f"{MAX_NAME_CHARACTERS} characters.")
    if len(tidy) > MAX_NAME_CHARACTERS:
        raise DisplayNameError(f"A display name has at most {MAX_NAME_CHARACTERS} characters; yours has "
                               f"{len(tidy):,}. Shorten it.")
    wanted = name_key(tidy)
    if any(name_key(other) == wanted for owner, other in names.items() if owner != visitor):
        raise DisplayNameError("Another learner of this class already has that name. Pick another one "
                               "(add an initial or a number).")
    return tidy
