"""MNIST for the pages that need it, and the one message every page gives when it cannot be loaded.

A missing, truncated or damaged `mnist.npz` shows the same red box on Data, Inspect and Errors,
naming the file and the fix, and the page stops there: never Streamlit's generic error box.
Nothing is downloaded from a page (a download would import TensorFlow into the server).
"""

from __future__ import annotations

import streamlit as st

from core.config.shown_text import markdown_text
from core.data.mnist import DatasetError, Mnist, load_mnist

MAX_MESSAGE_CHARACTERS = 1000


def show_dataset_error(error: DatasetError) -> None:
    """The red box for a dataset that cannot be loaded; its text is escaped (paths hold `_` and `*`)."""
    st.error(f"MNIST could not be loaded. {markdown_text(error, MAX_MESSAGE_CHARACTERS)}")


def mnist_or_stop() -> Mnist:
    """MNIST, validated (cached per file by `load_mnist`); otherwise the message, and the page stops."""
    try:
        return load_mnist(download=False)
    except DatasetError as error:
        show_dataset_error(error)
        st.stop()
