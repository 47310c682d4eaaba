"""One module-scoped fixture for test files that run the dashboard through AppTest: the entry script warms
the shared training queue's workers; end them with the module, not at interpreter exit (a worker ended there
is replaced by its watcher, and the replacement outlives the tests).

Import it into a test module (`from dashboard_workers import end_the_dashboards_workers  # noqa: F401`). A module
that never opened the dashboard pays nothing: asking for the queue makes it, and closing it at once starts no
workers (`TrainingJobs.close` cancels the delayed warm-up; `tests/test_training_jobs.py` checks it).
"""

import pytest


@pytest.fixture(scope="module", autouse=True)
def end_the_dashboards_workers():
    yield
    from dashboard.shared_jobs import shared_jobs

    shared_jobs().close()
    shared_jobs.clear()
