"""A tap on a map dot selects that dot on a touch screen, as a click does with a mouse.

Plotly (3.8, in Streamlit 1.67's chart) selects, at a click, the point its last hover found
(`selectOnClick` reads `gd._hoverdata`), then hovers where the click was. A mouse hovers a dot before
clicking it; a finger does not: the first tap on a dot selected nothing (or the dot tapped before) and only
showed the label, and the second tap selected it. The script here hovers the tapped place first: at the
start of a touch on a map chart it sends plotly's drag layer the `mousemove` a mouse would have sent there,
so the tap that follows selects the dot under the finger.
"""

from __future__ import annotations

from dashboard.page_scripts import run_script

MAP_CHART_KEY_PREFIX = "map_chart_"  # the Map page keys its chart of each view with this and the view's name
HOVER_AT_TOUCH = """<script>
if (!window.mnistLabHoversAtTouch) {
    window.mnistLabHoversAtTouch = true;
    document.addEventListener("touchstart", (event) => {
        const chart = event.target instanceof Element && event.target.closest("[class*='st-key-%s'] .js-plotly-plot");
        const touch = event.touches && event.touches[0];
        if (!chart || !touch || event.touches.length !== 1) return;
        const under = document.elementsFromPoint(touch.clientX, touch.clientY).find(
            (node) => node.classList && node.classList.contains("nsewdrag") && chart.contains(node));
        if (!under) return;
        under.dispatchEvent(new MouseEvent("mousemove", {
            bubbles: true, cancelable: true, clientX: touch.clientX, clientY: touch.clientY, view: window}));
    }, {capture: true, passive: true});
}
</script>"""


def select_on_first_tap() -> None:
    """Have a tap on a Map chart's dot select it at once; call it on every run that shows the Map page's chart."""
    run_script(HOVER_AT_TOUCH % MAP_CHART_KEY_PREFIX)
