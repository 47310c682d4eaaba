"""Visitor text as the pages show it: cut, and escaped so that markdown renders none of it."""

import re
import string

import pytest

from core.config.shown_text import (
    ELLIPSIS, MAX_SHOWN_CHARACTERS, WORD_JOINER, cut, escape_markdown, markdown_code, markdown_text,
)

HOSTILE = [
    "[Session expired, click here to log in](https://evil.example/login)",
    "![pixel](http://127.0.0.2:9/tracker.png)",
    "$\\frac{1}{0}$ and $$x^2$$",
    "**bold** __bold__ *it* _it_ ~~gone~~ `code`",
    "<img src=x onerror=alert(1)> <a href='//evil'>x</a>",
    "# Heading\n---\n> quote\n- item\n1. item\n    indented code",
    "www.evil.example https://evil.example user@evil.example",
    ":red[coloured] :material/warning: \\*already escaped\\*",
    "| a | b |\n|---|---|",
]


# What GFM (mdast-util-gfm-autolink-literal, used by Streamlit's renderer) links in the text left
# after parsing, backslash escapes already removed: its two patterns, as in its source.
GFM_AUTOLINKS = [re.compile(r"(https?://|www(?=\.))([-.\w]+)", re.IGNORECASE),
                 re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)")]


def unescape(text: str) -> str:
    """What CommonMark shows for escaped text: each backslash-escaped punctuation mark, bare."""
    return re.sub(r"\\([" + re.escape(string.punctuation) + "])", r"\1", text)


@pytest.mark.parametrize("text", HOSTILE)
def test_no_bare_url_or_address_is_left_for_gfm_to_link(text):
    # Seen in Chromium: escaping alone left `https://evil.example/login` to be autolinked.
    shown = unescape(escape_markdown(text))
    assert not any(pattern.search(shown) for pattern in GFM_AUTOLINKS), shown


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_has_no_unescaped_markdown_punctuation(text):
    escaped = escape_markdown(text)
    bare = re.sub(r"\\[" + re.escape(string.punctuation) + "]", "", escaped)
    assert not any(mark in bare for mark in string.punctuation), escaped
    assert "\n" not in escaped


@pytest.mark.parametrize("text", HOSTILE)
def test_escaping_keeps_every_character_shown(text):
    assert unescape(escape_markdown(text)).replace(WORD_JOINER, "") == re.sub(r"[\n]+", " ", text)


def test_long_text_is_cut_with_an_ellipsis():
    assert cut("x" * 100_000) == "x" * (MAX_SHOWN_CHARACTERS - 1) + ELLIPSIS
    assert cut("short") == "short"
    assert len(markdown_text("[" * 100_000)) == 2 * (MAX_SHOWN_CHARACTERS - 1) + 1


def test_inline_code_cannot_be_closed_early():
    assert markdown_code("a`](http://x)`b") == "`a'](http://x)'b`"
    assert markdown_code("line\nbreak") == "`line break`"
    assert markdown_code("``") == "`''`"
