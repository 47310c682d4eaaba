"""The browser tab's title, icon and the wide layout, sent without Streamlit's image pipeline.

`st.set_page_config(page_icon=<a file>)` runs the file through Streamlit's `image_to_url`, which
imports NumPy and opens the image with PIL whatever it is given: on a fresh server's first page
view that was 65-130 ms of the script's CPU before the page's title (more than the one-line
app's whole run), and 0.3-0.4 s of the 0.7 s from the first message to the painted title at
load 11-14 (bench/results/first_paint_profile.txt). The icon is a fixed PNG: its bytes are read
once per process and registered as the run's media file, as `image_to_url` does for a PNG, and
the page config message carries its URL.

The icon must be set before `st.navigation`: with none set, the browser takes the current page's
Material icon for the tab, and fetches it from fonts.gstatic.com.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import streamlit as st
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.PageConfig_pb2 import PageConfig
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

ICON_MEDIA_ID = "favicon"  # the media file's place, as `st.set_page_config` names it


@cache
def _icon_bytes(icon: Path) -> bytes:
    return icon.read_bytes()


def set_wide_page_config(page_title: str, icon: Path) -> None:
    """Set the tab's title and icon and the wide layout, as `st.set_page_config(page_title=page_title,
    page_icon=str(icon), layout="wide")` does, without importing NumPy or opening the image.

    Args:
        page_title: the browser tab's title.
        icon: a PNG file.

    Raises:
        ValueError: if `icon` is not a `.png` file.
    """
    if icon.suffix.lower() != ".png":
        raise ValueError(f"`icon` must be a PNG file (sent as image/png). Received: icon={icon}")
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():  # no server to serve the icon (a bare run): Streamlit's own way
        st.set_page_config(page_title=page_title, page_icon=str(icon), layout="wide")
        return
    message = ForwardMsg()
    config = message.page_config_changed
    config.title = page_title
    config.favicon = Runtime.instance().media_file_mgr.add(_icon_bytes(icon), "image/png", ICON_MEDIA_ID)
    config.layout = PageConfig.WIDE
    config.initial_sidebar_state = PageConfig.SIDEBAR_UNSET  # 0 would mean AUTO: leave it as Streamlit's call does
    ctx.enqueue(message)
