"""Data: what this lab is, and MNIST at a glance (no TensorFlow here: this is the first paint)."""

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.data.mnist import DatasetError, candidate_paths, load_mnist
from core.data.dataset_overview import describe_dataset
from core.config.zoo import MODEL_NAMES, SPECS, write_ups
from dashboard.dataset import show_dataset_error

PAGES = Path(__file__).resolve().parent
GRID_ZOOM = 3  # pixels per MNIST pixel, so the browser does not blur the digits


@st.cache_data(show_spinner="Loading MNIST…")
def dataset_overview(files: tuple):
    """Keyed by the candidate files and their modification times: a replaced file is read anew."""
    return describe_dataset(load_mnist(download=False))  # no download: it would import TensorFlow


def mnist_files() -> tuple:
    return tuple((str(path), path.stat().st_mtime) for path in candidate_paths() if path.is_file())


write_up_models = [name for name, spec in SPECS.items() if spec.reproduction is not None]
st.markdown(
    f"Train {len(MODEL_NAMES)} handwritten-digit classifiers ({len(write_up_models)} from {len(write_ups())} tutorials, "
    f"and this project's fast CNN), and your own variations of them, on the real MNIST, and watch every epoch as it "
    "happens. Then compare runs, look inside the networks, study their mistakes and test them on digits you draw."
)

try:
    overview = dataset_overview(mnist_files())
except DatasetError as error:
    show_dataset_error(error)
    st.stop()

sizes = st.columns(4)
sizes[0].metric("Training images", f"{overview.train_size:,}")
sizes[1].metric("Test images", f"{overview.test_size:,}")
sizes[2].metric("Image size", "28 × 28 px")
sizes[3].metric("Classes", "10 digits")

grid_column, counts_column = st.columns([5, 6], gap="large")
with grid_column:
    st.subheader("Sample digits")
    grid = np.kron(overview.sample_grid, np.ones((GRID_ZOOM, GRID_ZOOM), np.uint8))
    st.image(grid, caption=f"Row d: {overview.samples_per_class} random training images of digit d (0 at the top).")
with counts_column:
    st.subheader("Images per digit")
    counts = pd.DataFrame(
        {"train": overview.train_counts, "test": overview.test_counts},
        index=pd.Index([str(d) for d in range(10)], name="digit"),
    )
    st.bar_chart(counts, x_label="digit", y_label="images", stack=False, height=360)
    st.caption(
        f"The rarest digit in training is {int(np.argmin(overview.train_counts))} "
        f"({overview.train_counts.min():,} images), the most common {int(np.argmax(overview.train_counts))} "
        f"({overview.train_counts.max():,}): close enough to balanced that plain accuracy is a fair score."
    )

st.divider()
next_steps = st.columns(3)
next_steps[0].page_link(PAGES / "train.py", label="Train a model", icon=":material/model_training:")
next_steps[1].page_link(PAGES / "runs.py", label="Compare saved runs", icon=":material/stacked_line_chart:")
next_steps[2].page_link(PAGES / "draw.py", label="Draw a digit for a model", icon=":material/draw:")
