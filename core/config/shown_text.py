"""Text from visitors (query strings, run names, reasons, config values), made safe to show in markdown.

Streamlit renders the body of `st.error`, `st.warning`, `st.info`, `st.success`, `st.caption`,
`st.markdown`, `st.toast` and page-link labels as markdown, KaTeX included, and has no escape
function of its own. A value that came from outside the server's code must never become a link,
an image, a formula or bold text there: `markdown_text` cuts it and escapes every character
markdown could read as syntax. Where a whole message is visitor text, pages may instead show it
with an element that never parses markdown (`st.text`, `st.code`).
"""

from __future__ import annotations

import re
import string

MAX_SHOWN_CHARACTERS = 200  # a value longer than this is cut, with an ellipsis
ELLIPSIS = "…"
# CommonMark lets a backslash escape any ASCII punctuation, and only those: escaping them all
# covers links `[]()`, images `!`, emphasis `*_`, code `` ` ``, KaTeX `$`, HTML `<>`, headings `#`,
# strikethrough `~`, tables `|`, lists `-+.`, autolinks `:/@`, Streamlit's `:red[…]` directives.
_MARKDOWN_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")  # would start new markdown blocks
# GFM turns bare `https://…`, `www.…` and `name@host.tld` into links after parsing, in the text
# that escapes leave, so escaping cannot stop it: an invisible word joiner inside the trigger does.
WORD_JOINER = "\u2060"
_AUTOLINK_TRIGGERS = re.compile(r"(?i)(?<=https)(?=://)|(?<=http)(?=://)|(?<=www)(?=\.)|(?=@)")


def cut(text: object, limit: int = MAX_SHOWN_CHARACTERS) -> str:
    """`str(text)` cut to at most `limit` characters, the last one an ellipsis when it was cut.

    Args:
        text: any value; it is converted with `str`.
        limit: the most characters returned (at least 1).

    Returns:
        The text, or its first `limit - 1` characters followed by `…`.
    """
    text = str(text)
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


def escape_markdown(text: object) -> str:
    """`str(text)` with every markdown metacharacter backslash-escaped and line breaks made spaces.

    The result renders, in Streamlit's markdown, as the characters of `text` (on one line, with
    an invisible word joiner before each `://` after `http(s)`, each `.` after `www` and each
    `@`): no link, autolink, image, formula, emphasis, heading or HTML survives.
    """
    text = _AUTOLINK_TRIGGERS.sub(WORD_JOINER, _LINE_BREAKS.sub(" ", str(text)))
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def markdown_text(text: object, limit: int = MAX_SHOWN_CHARACTERS) -> str:
    """A visitor value as it may go into markdown: cut to `limit` characters, then escaped."""
    return escape_markdown(cut(text, limit))


def markdown_code(text: object, limit: int = MAX_SHOWN_CHARACTERS) -> str:
    """A visitor value as inline code (`` `value` ``), cut, with backticks and line breaks removed.

    Inside a code span markdown reads nothing but the closing backtick, so removing backticks is
    enough; a value that is only backticks shows as `''`.
    """
    shown = _LINE_BREAKS.sub(" ", cut(text, limit)).replace("`", "'").strip() or "''"
    return f"`{shown}`"
