"""Scripts the dashboard runs in the browser, from one hidden box at the same place of every run.

A script is an `st.html` element. One written among a page's elements in some runs and not others
shifts every element after it by one place in the runs that differ, and the browser remounts a
shifted element: Draw's canvas dropped a new visitor's first stroke that way (the visitor cookie's
script was written only in the run that made the id). So every script goes into one container that
the entry script reserves at the same place in every run, before the page, and that is never
displayed (no gap either).
"""

from __future__ import annotations

import streamlit as st

BOX_KEY = "page_scripts_box"  # this run's container for scripts (`reserve_script_box`)
# Streamlit closes the sidebar after a page is picked only where the browser says it is a phone (its user agent):
# a narrow desktop window, a tablet, or a phone asking for the desktop site kept the sidebar open over the page.
# Below Streamlit's `md` breakpoint the sidebar covers the page, so there a pick closes it (if still open).
CLOSE_SIDEBAR_AFTER_A_PICK = """<script>
if (!window.mnistLabClosesSidebarAfterAPick) {
    window.mnistLabClosesSidebarAfterAPick = true;
    document.addEventListener("click", (event) => {
        const link = event.target instanceof Element && event.target.closest("[data-testid='stSidebarNav'] a");
        if (!link || !window.matchMedia("(max-width: 768px)").matches) return;
        setTimeout(() => {  // after Streamlit's own handling of the click, which may have closed it already
            const close = document.querySelector("[data-testid='stSidebarCollapseButton'] button");
            if (close) close.click();
        }, 0);
    });
}
</script>"""


def reserve_script_box() -> None:
    """Reserve this run's box for scripts; call it at the same place of every run, before any `run_script`."""
    st.html(f"<style>[data-testid='stLayoutWrapper']:has(> .st-key-{BOX_KEY}) {{ display: none; }}</style>")  # style only: takes no place
    st.session_state[BOX_KEY] = st.container(key=BOX_KEY)


def run_script(script: str) -> None:
    """Run `script` (an HTML `<script>` element of ours, never a visitor's text) in this browser.

    Args:
        script: the element's HTML.
    """
    box = st.session_state.get(BOX_KEY, st)  # no box reserved (a page run on its own, under AppTest): in place
    box.html(script, unsafe_allow_javascript=True)


def close_sidebar_after_a_pick() -> None:
    """On a narrow screen, close the sidebar once a page is picked in it; call it on every run, right after
    `reserve_script_box` (the same script at the same place: the browser runs it once per page load)."""
    run_script(CLOSE_SIDEBAR_AFTER_A_PICK)
