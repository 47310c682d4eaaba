"""Import TensorFlow in a worker without the start-up lines its libraries print twice.

`import tensorflow` loads shared libraries that each carry their own copy of TensorFlow's
`port.cc` and of absl's logging (`libtensorflow_framework.so.2` and `_pywrap_profiler_plugin.so`
both hold the message's text). Each copy prints, before absl's logging is set up and therefore
whatever `TF_CPP_MIN_LOG_LEVEL` says:

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796530453.243174    8289 port.cc:153] oneDNN custom operations are on. ...

so every worker start printed both lines twice. `import_tensorflow_quietly()` routes the
process's stderr (file descriptor 2, where the C++ libraries write) through a pipe while
TensorFlow and Keras import, and passes every line on as it comes except those two kinds: INFO
lines (`I` and a date) and absl's banner, dropped only when `TF_CPP_MIN_LOG_LEVEL` is 1 or more
(`core` sets 2), the level at which TensorFlow itself hides INFO. Warnings, errors and Python's
own output pass through.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

ABSL_BANNER = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
INFO_LINE = re.compile(rb"^I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] ")  # absl's `I` (INFO) prefix
LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"


def hides_info() -> bool:
    """Whether `TF_CPP_MIN_LOG_LEVEL` asks for TensorFlow's INFO lines to be hidden (1 or more)."""
    try:
        return int(os.environ.get(LOG_LEVEL_ENV, "0")) >= 1
    except ValueError:
        return False


def is_start_up_noise(line: bytes) -> bool:
    """True for absl's banner and for absl INFO lines: what `TF_CPP_MIN_LOG_LEVEL>=1` means to hide."""
    line = line.rstrip(b"\r\n")
    return line == ABSL_BANNER or INFO_LINE.match(line) is not None


@contextmanager
def filtered_stderr(drop: Callable[[bytes], bool]) -> Iterator[None]:
    """Within the block, each line written to file descriptor 2 goes on to stderr unless `drop(line)`.

    Lines are forwarded as they come (a crash inside the block loses none already written).

    Args:
        drop: called with each line (bytes, with its newline); True to leave it out.
    """
    sys.stderr.flush()
    stderr_copy = os.dup(2)
    read_end, write_end = os.pipe()
    forward_to = os.dup(stderr_copy)  # the thread's own: it may outlive the block (see below)

    def forward() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                if not drop(line):
                    os.write(forward_to, line)
        os.close(forward_to)

    thread = threading.Thread(target=forward, name="stderr-filter", daemon=True)
    thread.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(stderr_copy, 2)  # the pipe's last writer closed: the thread reads to the end and stops
        os.close(stderr_copy)
        thread.join(timeout=5)  # a child that kept a copy of the pipe keeps the thread forwarding, harmlessly


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras (the worker's warm-up, ~2-5 s) without their duplicated start-up lines."""
    if not hides_info():  # the user asked for TensorFlow's INFO lines: they get all of them
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
        return
    with filtered_stderr(is_start_up_noise):
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
