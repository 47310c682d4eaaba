"""A worker starts quietly: TensorFlow's start-up lines are not printed (twice), real errors are;
a worker that cannot load MNIST says so once, in one line (issues 17 and 18).

Each check runs a fresh Python process (file descriptor 2 is the thing under test, and pytest
captures its own), and reads that process's stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.jobs.quiet_tensorflow_start import ABSL_BANNER, is_start_up_noise

ROOT = Path(__file__).resolve().parents[1]
ONEDNN_LINE = "oneDNN custom operations are on"


def start_python(code: str, **env: str) -> subprocess.Popen:
    environment = {**os.environ, **env}
    for name, value in env.items():
        if value is None:
            environment.pop(name)
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return finish(start_python(code, **env))


QUIET_IMPORT = """
    import core
    from core.jobs.quiet_tensorflow_start import import_tensorflow_quietly
    import_tensorflow_quietly()
    import tensorflow as tf
    print("imported", tf.constant(2).numpy() * 21)
"""
LOUD_IMPORT = """
    import core
    from core.jobs.quiet_tensorflow_start import import_tensorflow_quietly
    import_tensorflow_quietly()
"""
WORKER_WITHOUT_MNIST = """
    from core.jobs.local_executor import LocalExecutor
    executor = LocalExecutor(workers=1, warm_models=("fast", "lenet5"))
    print("warm", executor.wait_until_warm(240))
    executor.close()
"""


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """The checks that import TensorFlow, each in its fresh process, started at once (one after another, each
    waited seconds on its import): `{case: CompletedProcess}`, and the missing MNIST path of the last."""
    missing = tmp_path_factory.mktemp("worker_start") / "typo" / "mnist.npz"
    processes = {
        "quiet": start_python(QUIET_IMPORT),
        "loud": start_python(LOUD_IMPORT, TF_CPP_MIN_LOG_LEVEL="0"),
        "no_mnist": start_python(WORKER_WITHOUT_MNIST, MNIST_PATH=str(missing), MNIST_LAB_WORKER_WARM_MODELS="fast,lenet5",
                                 TF_CPP_MIN_LOG_LEVEL=None),
    }
    return {case: finish(process) for case, process in processes.items()}, missing


def test_noise_is_absls_banner_and_info_lines_only():
    assert is_start_up_noise(ABSL_BANNER + b"\n")
    assert is_start_up_noise(b"I0000 00:00:1796530453.243174    8289 port.cc:153] oneDNN custom operations are on.\n")
    assert not is_start_up_noise(b"E0000 00:00:1796530453.243174    8289 cuda_dnn.cc:8] Unable to register\n")
    assert not is_start_up_noise(b"W0000 00:00:1796530453.243174    8289 port.cc:10] a warning\n")
    assert not is_start_up_noise(b"Traceback (most recent call last):\n")
    assert not is_start_up_noise(b"I like this line\n")


def test_filter_passes_errors_warnings_and_python_output_in_order():
    result = run_python("""
        import os, sys
        from core.jobs.quiet_tensorflow_start import filtered_stderr, is_start_up_noise
        with filtered_stderr(is_start_up_noise):
            os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
            os.write(2, b"I0000 00:00:1796530453.243174    8289 port.cc:153] oneDNN custom operations are on.\\n")
            os.write(2, b"E0000 00:00:1796530453.243174    8289 x.cc:1] a real error\\n")
            print("python's own stderr", file=sys.stderr)
            os.write(2, b"no newline at the end")
        print("after the block", file=sys.stderr)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ("E0000 00:00:1796530453.243174    8289 x.cc:1] a real error\n"
                             "python's own stderr\nno newline at the endafter the block\n"), result.stderr


def test_importing_tensorflow_quietly_prints_none_of_its_start_up_lines(started):
    quiet = started[0]["quiet"]
    assert quiet.returncode == 0 and quiet.stdout.strip() == "imported 42", quiet.stderr
    assert ONEDNN_LINE not in quiet.stderr and "absl::InitializeLog" not in quiet.stderr, quiet.stderr


def test_with_tensorflows_info_lines_asked_for_they_all_show(started):
    """TF_CPP_MIN_LOG_LEVEL=0: nothing is hidden, and the lines the filter drops are really printed (twice)."""
    loud = started[0]["loud"]
    assert loud.returncode == 0, loud.stderr
    assert loud.stderr.count(ONEDNN_LINE) == 2 and loud.stderr.count("absl::InitializeLog") == 2, loud.stderr


def test_a_worker_without_mnist_starts_quietly_and_says_so_in_one_line(started):
    """The case that printed two tracebacks (one per preset warmed up) and TensorFlow's lines twice."""
    results, missing = started
    result = results["no_mnist"]
    assert result.returncode == 0 and result.stdout.strip() == "warm True", result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnist-lab worker "), result.stderr
    assert f"MNIST_PATH is set to {missing}, which is not a file." in lines[0]
