"""Shared fixtures: the real MNIST (found via $MNIST_PATH) and a throwaway runs directory.

`MNIST_PATH` defaults to the shared copy beside the repository (`../shared/data/mnist.npz`);
set it to use another file. Test modules that set it themselves
keep working: `setdefault` never overrides a value already there.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MNIST_PATH", str(ROOT.parent / "shared" / "data" / "mnist.npz"))
# Workers started by the tests skip tracing the presets while idle (~2 s of CPU each, and the
# suite starts dozens); tests/test_compiled_models.py checks the warm-up itself.
os.environ.setdefault("MNIST_LAB_WORKER_WARM_MODELS", "")
# Runs made by the tests skip their embedding map and digit statistics (a UMAP of 5,000 digits, ~seconds
# each, and the suite trains dozens); tests/test_embedding_map.py checks that a run computes them.
os.environ.setdefault("MNIST_LAB_EMBEDDING_DIGITS", "0")
os.environ.setdefault("MNIST_LAB_RUN_DETECTOR", "0")  # a run's own detector: tests/test_embedding_map.py fits one
if str(ROOT) not in sys.path:  # also covered by `pythonpath = .` in pytest.ini
    sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

import core  # noqa: E402,F401  (turns oneDNN on before anything imports TensorFlow)
from core.data.mnist import load_mnist  # noqa: E402
from core.runs.store import RUNS_DIR_ENV  # noqa: E402


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST, validated by the project's loader (never downloaded in tests)."""
    return load_mnist(download=False)


@pytest.fixture
def tmp_runs_dir(tmp_path, monkeypatch):
    """An empty runs directory, also set as `$MNIST_LAB_RUNS_DIR` so nothing lands in `runs/`."""
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    monkeypatch.setenv(RUNS_DIR_ENV, str(runs_dir))
    return runs_dir


CHECKPOINTED_LENET5 = "lenet5-3-epochs"


@pytest.fixture(scope="session")
def checkpointed_lenet5(tmp_path_factory):
    """The folder of a real LeNet-5 run of 3 epochs on 600 images (batch 32) with a checkpoint after each,
    trained once for the session: the scrubber's AppTest and browser checks and the browser's fork and resume
    each trained this same run for themselves. Never change it: copy it into a runs directory of the test's
    own (`shutil.copytree(folder, runs_dir / name)`; a run's name is its folder's)."""
    from core.config.train_config import preset_config
    from core.runs.checkpoints import list_checkpoints
    from core.runs.recorded_run import RecordedRun

    runs_dir = tmp_path_factory.mktemp("checkpointed_lenet5")
    config = preset_config("lenet5", epochs=3, train_size=600, batch_size=32)
    for event in RecordedRun(config, runs_dir=runs_dir, name=CHECKPOINTED_LENET5):
        pass
    assert event.status == "completed" and list_checkpoints(runs_dir, CHECKPOINTED_LENET5) == [1, 2, 3], event
    return runs_dir / CHECKPOINTED_LENET5


WORKER_WARM_UP_SECONDS = 300  # generous for a CPU shared with other work; never a performance check


class KeptOpen:
    """A module's executor lent to one test's `TrainingJobs`, whose `close()` leaves it to the next test."""

    def __init__(self, executor):
        self._executor = executor

    def __getattr__(self, name):
        return getattr(self._executor, name)

    def close(self, grace_seconds: float = 5.0) -> None:
        pass


@pytest.fixture(scope="module")
def warm_worker():
    """One warm local worker process (TensorFlow imported, the real MNIST loaded) for a module's trainings
    whose subject is the queue, not the worker: a fresh worker per test paid TensorFlow's import each time."""
    from core.jobs.local_executor import LocalExecutor

    executor = LocalExecutor(workers=1, mnist_path=os.environ["MNIST_PATH"])
    assert executor.wait_until_warm(WORKER_WARM_UP_SECONDS), "the worker never warmed up"
    yield executor
    executor.close()


@pytest.fixture
def jobs_on_the_warm_worker(warm_worker, tmp_runs_dir):
    """`make(**kwargs)`: a one-slot `TrainingJobs(**kwargs)` on the module's warm worker, recording into
    `tmp_runs_dir`. A job a failing test left queued or running is stopped afterwards, so the next test
    finds the worker free."""
    from core.jobs.training_jobs import TrainingJobs

    made = []

    def make(**kwargs):
        jobs = TrainingJobs(max_concurrent=1, runs_dir=tmp_runs_dir, executor=KeptOpen(warm_worker), **kwargs)
        made.append(jobs)
        return jobs

    yield make
    for jobs in made:
        jobs.stop_queued()
        for state in jobs.active_states():
            jobs.stop(state.job_id)
            jobs.wait(state.job_id, timeout=WORKER_WARM_UP_SECONDS)
        jobs.close()


@pytest.hookimpl(trylast=True)  # after `-k` and `-m` have deselected what they do
def pytest_collection_modifyitems(config, items):
    """A session that holds Ray cluster tests starts their checks now, in the background (tests/ray_checks.py):
    they wait on processes for a minute or two, while the tests before them run. One that uses AppTest scans
    for Streamlit components once (`scan_for_components_once`)."""
    marks = [item.get_closest_marker("ray_cluster") for item in items]
    if any(marks):
        import ray_checks

        # `ray_cluster("cluster")` names the check its tests need; a bare mark needs them all
        named = {mark.args[0] for mark in marks if mark and mark.args}
        ray_checks.start(None if any(mark and not mark.args for mark in marks) else named)
    # Likewise the clean venv where exported scripts run (tests/export_venv.py): pip unpacking TensorFlow.
    if any(item.path.name == "test_export_clean_venv.py" for item in items):
        import export_venv

        export_venv.start()
    if "streamlit.testing.v1" in sys.modules:  # a collected module uses AppTest
        scan_for_components_once()


def pytest_configure(config):
    """The browser tests share one Chromium for the session (each still closes the sessions it opened)."""
    import live_server

    live_server.share_one_browser()


def scan_for_components_once() -> None:
    """Each new AppTest's first run scans the metadata of every installed package for Streamlit components
    (~500 packages here: ~0.13 s of CPU, most of a page's first run; the suite makes hundreds of AppTests).
    Nothing is installed during a test session, so the first scan's answer serves every later AppTest
    (`pytest_collection_modifyitems` sets this up when a collected module imported AppTest)."""
    from streamlit.components.v2 import manifest_scanner

    scan = manifest_scanner.scan_component_manifests
    found: dict = {}

    def scan_once(max_workers=None):
        if max_workers not in found:
            found[max_workers] = scan(max_workers)
        return list(found[max_workers])

    manifest_scanner.scan_component_manifests = scan_once


def pytest_sessionfinish(session, exitstatus):
    if "live_server" in sys.modules:
        sys.modules["live_server"].close_shared_browser()
    if "ray_checks" in sys.modules:
        sys.modules["ray_checks"].stop()
    if "export_venv" in sys.modules:
        sys.modules["export_venv"].stop()
