"""One BLAS thread while a block runs: an attribution's small matmuls, or a robustness sweep's threads of their own.

NumPy's OpenBLAS splits a matmul over every core. An attribution is hundreds of small matmuls;
splitting each costs a hand-over between threads, and on a busy two-core machine (a training, other
visitors) the second thread is often not running, so each hand-over waits for the scheduler.
Measured at load 14 (`bench/results/attribution.txt`): Grad-CAM of one drawing took 38 ms with two
BLAS threads and 0.9 ms with one; integrated gradients 388 ms and 92 ms, with 4x less CPU time.

A robustness sweep (`core.robustness.sweep`) evaluates two levels at once, one in each of its own
threads; each thread's matmuls then run on one BLAS thread, with no hand-over at all.

`one_blas_thread()` sets OpenBLAS to one thread while the block runs and puts the previous count
back when the last block running (in any thread of the server) ends. It finds OpenBLAS among the
libraries this process has loaded, as threadpoolctl does; where there is none (another BLAS), it
changes nothing.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np  # noqa: F401  (loads OpenBLAS, so it is in the process's map below)

# (get, set) function names: NumPy's wheels ship OpenBLAS built with a `scipy_` prefix and a `64_` suffix.
OPENBLAS_FUNCTIONS = [
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
]

_lock = threading.Lock()
_running = 0  # blocks inside `one_blas_thread`, across threads
_previous = 0  # the thread count before the first of them


@lru_cache(maxsize=1)
def openblas_thread_functions() -> tuple | None:
    """`(get_num_threads, set_num_threads)` of the OpenBLAS this process loaded, or None."""
    try:
        mapped = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return None
    libraries = sorted({line.split()[-1] for line in mapped if "openblas" in line.lower() and ".so" in line})
    for path in libraries:
        try:
            library = ctypes.CDLL(path)  # already loaded: the same handle
        except OSError:
            continue
        for get_name, set_name in OPENBLAS_FUNCTIONS:
            if hasattr(library, get_name) and hasattr(library, set_name):
                return getattr(library, get_name), getattr(library, set_name)
    return None


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with OpenBLAS on one thread (no change where NumPy uses another BLAS)."""
    global _running, _previous
    functions = openblas_thread_functions()
    if functions is None:
        yield
        return
    get_threads, set_threads = functions
    with _lock:
        if _running == 0:
            _previous = int(get_threads())
            set_threads(1)
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                set_threads(_previous)
