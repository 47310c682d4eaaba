"""Timing on a shared virtual machine: pause your own background jobs, and see what the host took.

The benchmarks' `--pause-pid PID` uses `paused`; `cpu_ticks` and `share_of_run` read how the
machine's CPU time was spent during a measurement (idle cores, time stolen by the VM's host).
"""

from __future__ import annotations

import os
import platform
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SETTLE_SECONDS = 3  # for the stopped processes' threads to leave the CPU


def add_pause_argument(parser) -> None:
    """The `--pause-pid` option every benchmark takes."""
    parser.add_argument("--pause-pid", type=int, action="append", default=[],
                        help="SIGSTOP this process while timing, SIGCONT it after (repeatable)")


@contextmanager
def paused(pids: list[int]) -> Iterator[None]:
    """Stop `pids` with SIGSTOP for the duration, then resume them with SIGCONT (if still there)."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        if pids:
            time.sleep(SETTLE_SECONDS)
        yield
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass  # it ended meanwhile


def paused_line(pids: list[int]) -> str:
    return f"paused with SIGSTOP while timing (resumed after): pids {pids}"


def cpu_ticks() -> dict[str, int]:
    """This machine's cumulative CPU time by kind, in clock ticks (Linux `/proc/stat`)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return dict(zip(("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"), values))


def share_of_run(before: dict[str, int], after: dict[str, int], kind: str) -> float:
    """The share of all CPU time between two `cpu_ticks()` readings that went to `kind`."""
    total = sum(after.values()) - sum(before.values())
    return (after[kind] - before[kind]) / total if total else 0.0


def cpu_model() -> str:
    """This machine's CPU model (from /proc/cpuinfo), to print beside a figure: the CPU changes between sessions."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_text() -> str:
    """The load average over 1, 5 and 15 minutes, as printed beside a figure: `0.42 1.10 2.03`."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def load_line(when: str) -> str:
    """`load average <when>: 0.42 1.10 2.03 (1, 5, 15 min)`: the load at one moment of a benchmark."""
    return f"load average {when}: {load_text()} (1, 5, 15 min)"


class Transcript:
    """What a benchmark says: each line printed as it comes, and kept to be written to its results file.

    Example:

    ```python
    transcript = Transcript()
    say = transcript.say
    say(f"cpu: {cpu_model()}")
    transcript.write("bench/results/x.txt")
    ```
    """

    def __init__(self) -> None:
        self.lines: list[str] = []

    def say(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def text(self) -> str:
        """Everything said so far, a line each, ending with a newline."""
        return "\n".join(self.lines) + "\n"

    def write(self, path: str | Path) -> None:
        Path(path).write_text(self.text())
