"""Entry point: `streamlit run dashboard/app.py`. Routes to one page per view in `pages/`."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run` puts only dashboard/ on sys.path
    sys.path.insert(0, str(ROOT))

import core  # noqa: E402,F401  (turns oneDNN on before anything imports TensorFlow)
import pandas  # noqa: E402,F401  (imported here, once, before training threads can race a page to it)
import streamlit as st  # noqa: E402

st.set_page_config(page_title="MNIST training lab", page_icon=str(Path(__file__).with_name("favicon.png")), layout="wide")  # a file: served from here, not a font server

from dashboard.shared_jobs import shared_jobs  # noqa: E402
from dashboard.visitor import sharing_rules, teacher_sign_in, visitor_id  # noqa: E402

rules = sharing_rules()  # a wrong setting stops here, on every page, with a message naming it
jobs = shared_jobs()  # the first page view starts the training workers warming up, before anyone presses Start
jobs.seen(visitor_id())


if rules.heartbeat_seconds:  # a shared server: an open tab says "still here", so its queued training keeps its place
    @st.fragment(run_every=rules.heartbeat_seconds)
    def heartbeat() -> None:
        shared_jobs().seen(visitor_id())

    with st.sidebar:
        heartbeat()
teacher_sign_in(rules, jobs.stop_queued)

PAGES = ROOT / "pages"
navigation = st.navigation(
    [
        st.Page(PAGES / "data.py", title="Data", icon=":material/grid_view:", default=True),
        st.Page(PAGES / "train.py", title="Train", icon=":material/model_training:"),
        st.Page(PAGES / "sweep.py", title="Sweep", icon=":material/tune:"),
        st.Page(PAGES / "runs.py", title="Runs", icon=":material/stacked_line_chart:"),
        st.Page(PAGES / "inspect.py", title="Inspect", icon=":material/biotech:"),
        st.Page(PAGES / "errors.py", title="Errors", icon=":material/error:"),
        st.Page(PAGES / "draw.py", title="Draw", icon=":material/draw:"),
    ]
)
navigation.run()
