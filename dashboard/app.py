"""Entry point: `streamlit run dashboard/app.py`. Routes to one page per view in `pages/`."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run` puts only dashboard/ on sys.path
    sys.path.insert(0, str(ROOT))

import core  # noqa: E402,F401  (turns oneDNN on before anything imports TensorFlow)
import streamlit as st  # noqa: E402

from dashboard.page_config import set_wide_page_config  # noqa: E402

set_wide_page_config("MNIST training lab", Path(__file__).with_name("favicon.png"))  # a file: served from here, not a font server

PAGES = ROOT / "pages"
VIEWS = [  # (page file, its name in the sidebar, its icon, the title it opens with)
    ("data.py", "Data", ":material/grid_view:", "MNIST training lab"),
    ("train.py", "Train", ":material/model_training:", "Train"),
    ("sweep.py", "Sweep", ":material/tune:", "Sweep"),
    ("runs.py", "Runs", ":material/stacked_line_chart:", "Runs"),
    ("report.py", "Report", ":material/assignment:", "A run's report"),
    ("inspect.py", "Inspect", ":material/biotech:", "Inspect a model"),
    ("errors.py", "Errors", ":material/error:", "Errors"),
    ("map.py", "Map", ":material/scatter_plot:", "The model's map of the digits"),
    ("draw.py", "Draw", ":material/draw:", "Draw a digit"),
    ("board.py", "Board", ":material/leaderboard:", "Class board"),
]
navigation = st.navigation([st.Page(PAGES / file, title=name, icon=icon, default=file == "data.py")
                            for file, name, icon, _ in VIEWS])
# The page's title goes out first, before this script or the page imports and loads anything:
# on a fresh server that is most of a second sooner (bench/first_paint.py).
st.title(next(title for _, name, _, title in VIEWS if name == navigation.title))

import pandas  # noqa: E402,F401  (imported here, once, before training threads can race a page to it)

from dashboard.address_bar import sync_address_bar  # noqa: E402
from dashboard.shared_jobs import shared_jobs, visitor_is_here  # noqa: E402
from dashboard.page_scripts import close_sidebar_after_a_pick, reserve_script_box  # noqa: E402
from dashboard.server_profile import profile_if_asked  # noqa: E402
from dashboard.visitor import sharing_rules, teacher_sign_in  # noqa: E402

reserve_script_box()  # a new visitor's cookie script goes in it: the page's elements sit where they sit in later runs
close_sidebar_after_a_pick()  # Streamlit does it only where the browser's user agent says "phone"
rules = sharing_rules()  # a wrong setting stops here, on every page, with a message naming it
jobs = shared_jobs()  # the first page view starts the training workers warming up, before anyone presses Start
visitor_is_here()
profile_if_asked()  # only where MNIST_LAB_PROFILE_FILE is set (a benchmark's server)

if rules.heartbeat_seconds:  # a shared server: an open tab says "still here", so its queued training keeps its place
    @st.fragment(run_every=rules.heartbeat_seconds)
    def heartbeat() -> None:
        visitor_is_here()

    with st.sidebar:
        heartbeat()
teacher_sign_in(rules, jobs.stop_queued)
navigation.run()
sync_address_bar()  # at the end of every full run: the browser's copy of the query string ends equal to the server's
