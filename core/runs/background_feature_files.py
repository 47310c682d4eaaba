"""A run's map and digit statistics written on a thread of their own, so the worker takes its next job at once.

The t-SNE of the map takes ~9 s of one core (bench/results/not_a_digit.txt); done in line, it held
the worker: a visitor who pressed Start right after a run waited that long for a first progress
(`bench/server_footprint.py` measured 12-18 s). Now the run's features are computed where it ends
(they need its Keras model, which the next job reuses: `core.runs.feature_files.precomputed_features`),
and the rest goes on here at a lower CPU priority, one map at a time per process, while the next
training runs; last, the run's own "not a digit" detector (`core.runs.run_detector`, from its NumPy model). Nothing is lost if the process ends first: the run is complete without the files,
and `python -m core embedding --run NAME` writes them; the pages say so.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from core.data.mnist import Mnist
from core.models.penultimate import FeaturesAndLogits
from core.runs.feature_files import write_feature_files
from core.runs.run_detector import run_detector_enabled, write_run_detector

BACKGROUND_NICENESS = 10  # added to the worker's own: a training on the same cores comes first
ONE_MAP_AT_A_TIME = threading.Lock()  # two maps at once would only share the same core; and the tests can hold it


def lower_this_threads_priority(increment: int = BACKGROUND_NICENESS) -> None:
    """Make the calling thread (on Linux, a task of its own) nicer by `increment`; elsewhere, nothing."""
    try:
        thread_id = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread_id, min(19, os.getpriority(os.PRIO_PROCESS, thread_id) + increment))
    except (AttributeError, OSError):
        pass


class BackgroundFeatureFiles:
    """Writes a run's `embedding.npz` and `novelty.npz` on a non-daemon thread (a worker exits only once it is done).

    Args:
        folder: the run folder.
        run_name: for the console's line.
        features_and_logits: from `core.runs.feature_files.precomputed_features` (already computed).
        mnist: the dataset; map_digits: test digits on the map (as the features were computed for).
        extra_meta: more to record in the map's meta.
        then: called on the same thread once the files are written (not when they failed): what needs the map
            (the map at each kept epoch, `core.runs.epoch_map_files`); it reports its own failures.
    """

    def __init__(self, folder: str | os.PathLike, run_name: str, features_and_logits: FeaturesAndLogits, mnist: Mnist,
                 map_digits: int, extra_meta: dict | None = None, then: Callable[[], None] | None = None):
        self.folder, self.run_name = Path(folder), run_name
        self.seconds: dict[str, float] | None = None
        self.error: str | None = None
        self._then = then
        self._arguments = (features_and_logits, mnist, map_digits, extra_meta)
        self._thread = threading.Thread(target=self._write, name=f"feature-files-{run_name}", daemon=False)
        self._thread.start()

    def _write(self) -> None:
        features_and_logits, mnist, map_digits, extra_meta = self._arguments
        lower_this_threads_priority()
        with ONE_MAP_AT_A_TIME:
            try:
                self.seconds = write_feature_files(self.folder, features_and_logits, mnist, map_digits=map_digits,
                                                   extra_meta=extra_meta)
                print(f"run {self.run_name}: map and digit statistics in {self.seconds['total']:.1f} s",
                      file=sys.stderr, flush=True)
            except Exception as error:  # a full disk, a run deleted meanwhile: the run itself is complete
                self.error = f"{type(error).__name__}: {error}"
                print(f"run {self.run_name}: no map or digit statistics ({self.error}); "
                      f"`python -m core embedding --run {self.run_name}` tries again", file=sys.stderr, flush=True)
            if self.error is None and self._then is not None:
                self._then()
            if self.error is None and run_detector_enabled():
                self._write_detector(mnist, map_digits)
        self._arguments = self._then = None  # the features and the dataset go with the thread

    def _write_detector(self, mnist: Mnist, map_digits: int) -> None:
        """The run's own "not a digit" detector (`core.runs.run_detector`), last; never fatal."""
        try:
            seconds = write_run_detector(self.folder, mnist, map_digits)
            print(f"run {self.run_name}: its own 'not a digit' detector in {seconds:.1f} s", file=sys.stderr, flush=True)
        except Exception as error:  # no NumPy model, no images file, a full disk: the combined score judges
            print(f"run {self.run_name}: no 'not a digit' detector of its own ({type(error).__name__}: {error}); "
                  f"the combined score judges; `python -m core embedding --run {self.run_name}` tries again",
                  file=sys.stderr, flush=True)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the files; True once the thread is done (written or failed), False if `timeout` passed first."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
