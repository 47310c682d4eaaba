"""Pool the stroke times of alternated `attribution_browser.py --print-strokes` runs, per side and method.

Run: `python bench/pool_stroke_times.py LOG`, where LOG holds the runs in turn, each after a line
`=== round <k>: <side> ...` (e.g. `base` for the old main in a copy of its tree, `branch` for the new
code): on a loaded machine, old and new alternated over the same minutes give a fairer ratio than
two runs apart. Prints the median and p95 per side and method, and the 1-minute load seen by each side.
"""

from __future__ import annotations

import collections
import re
import sys

import numpy as np


def main() -> None:
    side = None
    pooled: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    loads: dict[str, list[float]] = collections.defaultdict(list)
    for line in open(sys.argv[1], encoding="utf-8"):
        heading = re.match(r"=== round \d+: (\w+)", line)
        if heading:
            side = heading.group(1)
        load = re.search(r"load average (?:at the end )?([\d.]+)", line)
        if load and side:
            loads[side].append(float(load.group(1)))
        strokes = re.match(r"\s+(.+?) strokes_ms=(.*)", line)
        if strokes and side:
            pooled[(side, strokes.group(1))] += [float(value) for value in strokes.group(2).split(",")]
    for (side, method), values in sorted(pooled.items(), key=lambda item: (item[0][1], item[0][0])):
        times = np.array(values)
        print(f"  {side:<7} {method:<22} median {np.median(times):7.1f} ms   p95 {np.percentile(times, 95):7.1f} ms   ({len(times)} strokes)")
    for side, seen in loads.items():
        print(f"  {side}: 1-min load {min(seen):.1f}-{max(seen):.1f} at its runs' starts and ends")


if __name__ == "__main__":
    main()
