"""The class board's cards as one block of HTML: a grid of cards, each with an SVG sparkline.

One `st.html` of plain elements is far cheaper for a browser than a plotly figure per card (the
grid is one DOM insert; `bench/class_board.py` measures it). Each sparkline is an SVG drawn here
and shown as an image (a data URI), since `st.html`'s sanitizer keeps HTML elements only.
Every value that came from a visitor (a display name) or a run folder is HTML-escaped; nothing
here holds a script, a link or an outside address.
"""

from __future__ import annotations

import base64
import html
import re

from core.classroom.class_ledger import ClassState
from core.classroom.class_runs import ClassRun
from core.classroom.leaderboard import Standing
from core.training.events import QUEUED, RUNNING

SPARK_WIDTH, SPARK_HEIGHT = 150, 34
LOSS_COLOUR, ACCURACY_COLOUR = "#e4572e", "#2e86ab"
STATE_COLOURS = {QUEUED: "#8a8a8a", RUNNING: "#2e7d32"}  # the endings: dark grey
KEY_SETTINGS = ("optimizer", "learning_rate", "batch_size", "epochs", "hidden_units", "train_size")

BOARD_STYLE = """<style>
.class-board { display: grid; grid-template-columns: repeat(auto-fill, minmax(165px, 1fr)); gap: 6px; }
.class-card { border: 1px solid #d0d0d0; border-radius: 6px; padding: 4px 6px; font-size: 12px; line-height: 1.2;
  background: #fff; overflow: hidden; }
.class-card .who { font-weight: 600; font-size: 14px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.class-card .what { color: #555; font-size: 11px; overflow: hidden; display: -webkit-box; -webkit-line-clamp: 2;
  -webkit-box-orient: vertical; }
.class-card .row { display: flex; justify-content: space-between; align-items: center; gap: 6px; }
.class-card .state { font-size: 12px; color: #fff; border-radius: 4px; padding: 0 5px; }
.class-card .acc { font-weight: 600; font-size: 14px; }
.class-card .rank { font-weight: 700; color: #b8860b; }
.class-card img.spark { display: block; width: 100%; height: 28px; margin: 2px 0; }
</style>"""


def _points(values: tuple[float, ...], low: float, high: float) -> str:
    if len(values) < 2:
        return ""
    span = (high - low) or 1.0
    step = (SPARK_WIDTH - 2) / (len(values) - 1)
    return " ".join(f"{1 + i * step:.1f},{SPARK_HEIGHT - 2 - (v - low) / span * (SPARK_HEIGHT - 4):.1f}"
                    for i, v in enumerate(values))


def sparkline_svg(losses: tuple[float, ...], accuracies: tuple[float, ...]) -> str:
    """An inline SVG of the loss (its own scale) and the accuracy (0 to 1) as two polylines.

    Args:
        losses, accuracies: the points, oldest first; fewer than two of either draws no line for it.

    Returns:
        An `<svg>` element `SPARK_WIDTH` × `SPARK_HEIGHT` pixels, with a title naming the last values.
    """
    finite = [v for v in losses if v == v and abs(v) != float("inf")]
    loss_line = _points(tuple(finite), min(finite), max(finite)) if len(finite) >= 2 else ""
    accuracy_line = _points(accuracies, 0.0, 1.0)
    title = []
    if finite:
        title.append(f"loss {finite[-1]:.3g}")
    if accuracies:
        title.append(f"accuracy {accuracies[-1]:.1%}")
    lines = "".join(f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{points}"/>'
                    for colour, points in ((LOSS_COLOUR, loss_line), (ACCURACY_COLOUR, accuracy_line)) if points)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{SPARK_WIDTH}" height="{SPARK_HEIGHT}" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" preserveAspectRatio="none" '
            f'role="img"><title>{html.escape(", ".join(title) or "no points yet")}</title>'
            f'<rect width="100%" height="100%" fill="#f6f6f6"/>{lines}</svg>')


def sparkline_img(losses: tuple[float, ...], accuracies: tuple[float, ...]) -> str:
    """The sparkline as an `<img>` of an SVG data URI: `st.html` keeps only HTML elements (its sanitizer's
    HTML profile drops inline `<svg>`), and an image's SVG runs nothing."""
    svg = sparkline_svg(losses, accuracies)
    title = html.escape(re.search(r"<title>(.*?)</title>", svg).group(1), quote=True)
    data = base64.b64encode(svg.encode()).decode()
    return (f'<img class="spark" src="data:image/svg+xml;base64,{data}" width="{SPARK_WIDTH}" height="{SPARK_HEIGHT}" '
            f'alt="{title}" title="{title}">')


def _settings(config: dict) -> str:
    parts = []
    for name in KEY_SETTINGS:
        value = config.get(name)
        if value in (None, 0, "") and name in ("hidden_units", "train_size"):
            continue
        if name == "learning_rate" and isinstance(value, (int, float)):
            parts.append(f"lr {value:g}")
        elif name == "batch_size":
            parts.append(f"batch {value or 'full'}")
        elif name == "train_size":
            parts.append(f"{value:,} images" if isinstance(value, int) else "")
        elif name == "hidden_units":
            parts.append(f"{value} units")
        elif name == "epochs":
            parts.append(f"{value} ep")
        else:
            parts.append(str(value))
    return " · ".join(p.replace(" ", "\u00a0") for p in parts if p)  # a line breaks between settings, not inside one


def card_html(run: ClassRun, name: str, rank: int | None) -> str:
    """One run's card: name, model and key settings, sparkline, state, test accuracy, rank."""
    colour = STATE_COLOURS.get(run.status, "#555")
    if run.status == RUNNING:
        state = f"running · epoch {run.epochs_done + 1}"
    else:
        state = run.status.replace("_", " ")
    accuracy = "—" if run.test_accuracy is None else f"{run.test_accuracy:.2%}"
    rank_text = f'<span class="rank">#{rank}</span>' if rank is not None else ""
    model = html.escape(str(run.config.get("model", "?")))
    return (f'<div class="class-card" data-run="{html.escape(run.key)}">'
            f'<div class="row"><div class="who">{html.escape(name)}</div>{rank_text}</div>'
            f'<div class="what"><b>{model}</b> · {html.escape(_settings(run.config))}</div>'
            f'{sparkline_img(run.losses, run.accuracies)}'
            f'<div class="row"><span class="state" style="background:{colour}">{html.escape(state)}</span>'
            f'<span class="acc" title="test accuracy">{accuracy}</span></div></div>')


def board_html(table: list[Standing], state: ClassState) -> str:
    """Every run's card, in the order the session's runs started (queued ones last), with the ranked ones' ranks."""
    ranks = {standing.run.key: standing.rank for standing in table}
    runs = [standing.run for standing in table]
    order = {run.key: index for index, run in enumerate(runs)}
    runs.sort(key=lambda run: (run.status == QUEUED, run.submitted, order[run.key]))
    cards = "".join(card_html(run, state.shown_name(run.visitor), ranks.get(run.key)) for run in runs)
    return f'{BOARD_STYLE}<div class="class-board">{cards}</div>'


LEADERBOARD_STYLE = """<style>
.class-leaders { width: 100%; border-collapse: collapse; font-size: 14px; }
.class-leaders td, .class-leaders th { padding: 2px 4px; text-align: left; border-bottom: 1px solid #e4e4e4; }
.class-leaders td.num, .class-leaders th.num { text-align: right; }
.class-leaders td.who { max-width: 130px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
</style>"""


def leaderboard_html(table: list[Standing], state: ClassState, most: int = 12) -> str:
    """The first `most` ranked runs as a table (rank, name, model, score), or a sentence when none is ranked."""
    ranked = [standing for standing in table if standing.rank is not None][:most]
    if not ranked:
        return '<p class="class-leaders-empty">No run is ranked yet.</p>'
    seconds = state.challenge is not None and state.challenge.lower_is_better
    rows = "".join(
        f'<tr><td class="num">#{s.rank}</td><td class="who">{html.escape(state.shown_name(s.run.visitor))}</td>'
        f'<td>{html.escape(str(s.run.config.get("model", "?")))}</td>'
        f'<td class="num">{(f"{s.run.seconds:.1f} s" if seconds else f"{s.run.test_accuracy:.2%}")}</td></tr>'
        for s in ranked)
    score = "seconds" if seconds else "test"
    return (f'{LEADERBOARD_STYLE}<table class="class-leaders"><tr><th class="num">rank</th><th>name</th><th>model</th>'
            f'<th class="num">{score}</th></tr>{rows}</table>')
