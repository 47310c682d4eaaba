"""A run's report in a real Chromium: it computes the run's calibration and robustness off the page, shows its
progress meanwhile, then fits curves, per-digit accuracy, calibration and robustness on one 1280×720 screen; it
renders at desktop, projector and phone sizes, and neither the browser nor the server (and the report process
it starts) asks anything of a host but 127.0.0.1 (tests/network_watch.py)."""

import pytest

from core.config.train_config import preset_config
from core.runs.recorded_run import RecordedRun
from live_server import assert_page_clean, chromium, fresh_log, new_page, running_server, screenshot, wait_idle
from network_watch import logged_calls, outside_calls, watch_environment

DESKTOP, PROJECTOR, PHONE = {"width": 1400, "height": 1000}, {"width": 1280, "height": 720}, {"width": 390, "height": 844}
RUN = "mlp-report-card"
REPORT_TIMEOUT_MS = 600_000  # a spawned process imports NumPy and SciPy, loads MNIST, sweeps 30 levels, niced: at load 15 it took >180 s
CHARTS = ("report_curves", "report_per_digit", "report_calibration", "report_robustness")
ON_SCREEN = (*CHARTS, "report_take_it_home")  # what a 1280x720 screen must hold whole
# Every progress text the page showed, recorded as it appears (the report may finish between two polls).
WATCH_PROGRESS = """
window.__progressSeen = [];
new MutationObserver(() => {
    for (const bar of document.querySelectorAll("[data-testid='stProgress']")) {
        const text = bar.textContent;
        if (!window.__progressSeen.includes(text)) window.__progressSeen.push(text);
    }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""
CHART_DRAWN = """(key) => {
    const plot = document.querySelector(`.st-key-${key} .js-plotly-plot`);
    return plot && plot.data && plot.data.some(trace => (trace.x || []).length > 0);
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, mnist):
    folder = tmp_path_factory.mktemp("report-browser")
    config = preset_config("mlp", epochs=2, train_size=2000, validation_size=500, batch_size=50, activation="relu",
                           initializer="he_normal", optimizer="adam", learning_rate=1e-3)
    list(RecordedRun(config, runs_dir=folder / "runs", name=RUN, mnist=mnist))
    watch_log = folder / "network.jsonl"
    with running_server(folder / "runs", fresh_log("report"), watch_environment(folder / "watch", watch_log)) as live:
        live.watch_log = watch_log
        yield live


def robustness_key(viewport) -> str:
    """The robustness chart a screen of this size shows: six in a row, or rows of two on a phone."""
    return "report_robustness_phone" if viewport["width"] <= 640 else "report_robustness"


def open_report(server, browser, viewport):
    page = new_page(browser)
    page.context.add_init_script(WATCH_PROGRESS)
    page.set_viewport_size(viewport)
    page.goto(f"{server.url}/report?run={RUN}", wait_until="domcontentloaded")
    for key in (*CHARTS[:-1], robustness_key(viewport)):
        page.wait_for_function(CHART_DRAWN, arg=key, timeout=REPORT_TIMEOUT_MS)
    wait_idle(page)
    return page


def test_the_report_shows_progress_then_fits_one_projector_screen(server):
    with chromium() as browser:
        page = open_report(server, browser, PROJECTOR)
        seen = page.evaluate("window.__progressSeen")
        assert any("Calibrating" in text or "Robustness sweep" in text for text in seen), seen
        robustness = page.evaluate("""() => {
            const plot = document.querySelector('.st-key-report_robustness .js-plotly-plot');
            return plot.data.map(trace => [trace.name, trace.x.length]);
        }""")
        assert [length for _, length in robustness] == [7, 7, 5, 5, 6, 5]  # one line a perturbation, all its levels
        assert {name for name, _ in robustness} == {robustness[0][0]} and robustness[0][0].startswith(f"{RUN} (mlp")
        for key in ON_SCREEN:  # printable on one screen: every chart, and the downloads, end above the fold
            box = page.locator(f".st-key-{key}").bounding_box()
            assert box["y"] >= 0 and box["y"] + box["height"] <= PROJECTOR["height"], (key, box)
        summary = page.get_by_text("Test accuracy").first.text_content()
        assert "ECE" in summary and "after temperature" in summary and "worst:" in summary
        page.get_by_text("How these were measured, and the perturbed digits").click()
        page.locator("[data-testid='stImage'] img").nth(5).wait_for(state="visible")
        page.locator(".st-key-report_take_it_home button").click()
        for label in ("Training script (.py)", "Metrics (.csv)", "Report card (.json)"):
            page.get_by_role("button", name=label).wait_for(state="visible")
        screenshot(page, "report_projector")
        assert_page_clean(page)
        page.context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_report_renders_at_desktop_and_phone_sizes(server, viewport):
    with chromium() as browser:
        page = open_report(server, browser, viewport)
        width = page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollWidth")
        assert width <= viewport["width"] + 1, f"the report scrolls sideways at {viewport}: {width} px"
        shown = robustness_key(viewport)
        hidden = ({"report_robustness", "report_robustness_phone"} - {shown}).pop()
        assert page.locator(f".st-key-{shown}").is_visible() and page.locator(f".st-key-{hidden}").is_hidden()
        chart_widths = page.evaluate("""(key) => {
            const layout = document.querySelector(`.st-key-${key} .js-plotly-plot`)._fullLayout;
            return layout._subplots.xaxis.map(axis => layout[axis === "x" ? "xaxis" : "xaxis" + axis.slice(1)]._length);
        }""", shown)
        assert len(chart_widths) == 6 and min(chart_widths) >= 120, f"robustness charts too narrow at {viewport}: {chart_widths}"
        screenshot(page, f"report_{viewport['width']}")
        assert_page_clean(page)
        page.context.close()


def test_neither_the_server_nor_its_report_process_asked_anything_outside(server):
    starts = [entry for entry in logged_calls(server.watch_log) if entry["event"] == "watch.start"]
    assert len(starts) >= 2, starts  # the server and the report process it spawned were both watched
    assert outside_calls(server.watch_log) == []
