"""The Train and Sweep forms on a projector (1280×720) in a real Chromium: what must be seen without scrolling is,
and nothing in the form column is cut (the model menu's text, the five knob tabs)."""

import pytest

from live_server import assert_page_clean, chromium, fresh_log, new_page, running_server, screenshot, wait_idle

PROJECTOR = {"width": 1280, "height": 720}

# Whether each tab of the first tab list lies inside the list's box (a cut tab sticks out, behind a scroll arrow),
# and whether the model menu's text fits its field (an <input>: a longer text is cut, never wrapped).
TABS_INSIDE = """() => {
    const list = document.querySelector("[role='tablist']");
    const box = list.getBoundingClientRect();
    return [...list.querySelectorAll("[role='tab']")].map(tab => {
        const r = tab.getBoundingClientRect();
        return [tab.textContent, r.left >= box.left - 1 && r.right <= box.right + 1];
    });
}"""
MENU_FITS = """(key) => {
    const input = document.querySelector(`.st-key-${key} input`);
    return [input.value, input.scrollWidth <= input.clientWidth];
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("projector") / "runs", fresh_log("projector")) as live:
        yield live


@pytest.fixture(scope="module")
def page(server):
    with chromium() as browser:
        page = new_page(browser)
        page.set_viewport_size(PROJECTOR)
        yield page
        page.context.close()


def on_screen(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PROJECTOR["height"]


@pytest.mark.parametrize("model", ["numpy_logreg", "cnn_deep", "lenet5", "fast"])
def test_train_shows_start_and_the_write_up_without_scrolling_and_cuts_nothing(server, page, model):
    page.goto(f"{server.url}/train?model={model}", wait_until="domcontentloaded")
    page.locator(".st-key-train_start button").wait_for(state="visible")
    wait_idle(page)
    assert on_screen(page, ".st-key-train_start button"), f"Start is below the fold at 1280×720 for {model}"
    if model != "fast":  # one of the write-ups' models: its control beside Start
        assert on_screen(page, ".st-key-train_write_up button")
    value, fits = page.evaluate(MENU_FITS, "train_model")
    assert value.startswith(f"{model}: ") and fits, f"the model menu cuts {value!r}"
    tabs = page.evaluate(TABS_INSIDE)
    assert [name for name, _ in tabs] == ["Optimisation", "Model", "Stopping", "Data", "Augmentation"]
    assert all(inside for _, inside in tabs), f"tabs cut at 1280 px: {tabs}"
    screenshot(page, f"projector_train_{model}")
    assert_page_clean(page)


def test_sweep_shows_start_and_its_estimate_without_scrolling(server, page):
    page.goto(f"{server.url}/sweep", wait_until="domcontentloaded")
    page.locator(".st-key-sweep_start button").wait_for(state="visible")
    wait_idle(page)
    assert on_screen(page, ".st-key-sweep_start button"), "Start sweep is below the fold at 1280×720"
    estimate = page.get_by_text("for 8 trial(s) one after another").first
    assert estimate.is_visible() and estimate.bounding_box()["y"] + estimate.bounding_box()["height"] <= PROJECTOR["height"]
    assert all(inside for _, inside in page.evaluate(TABS_INSIDE))
    screenshot(page, "projector_sweep")
    assert_page_clean(page)
