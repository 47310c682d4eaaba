"""The clean virtual environment where exported scripts run: only requirements.txt's TensorFlow pin.

Made once, under `.venv-export-check/` (git-ignored), by `python -m venv` and `pip install
tensorflow-cpu==<pin>`, and reused while the pin it was made with (its `installed.txt`) is
requirements.txt's. Making it takes pip a minute or two (it unpacks ~1 GB, mostly waiting on the
disk), so when the session holds `tests/test_export_clean_venv.py`, `tests/conftest.py` starts it at
collection, in the background, and the tests only wait for what is usually finished by then. It is
built beside its final place and renamed into it whole: a venv finds its packages next to its
python, so the rename keeps it working, and an interrupted build never looks like a finished one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLEAN_VENV = ROOT / ".venv-export-check"
INSTALLED_FILE = "installed.txt"  # the requirement the venv holds; written once pip has finished
INSTALL_TIMEOUT_SECONDS = 1200  # an upper bound for pip on a busy machine without a cache, not a speed claim
TEST_FILE = "test_export_clean_venv.py"


class CleanVenvError(RuntimeError):
    """The clean venv could not be made; the message holds pip's own words."""


def tensorflow_pin() -> str:
    """requirements.txt's `tensorflow-cpu==X.Y.Z`."""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        requirement = line.split("#")[0].strip()
        if requirement.startswith("tensorflow-cpu=="):
            return requirement
    raise CleanVenvError("requirements.txt pins no tensorflow-cpu")


def is_ready(pin: str) -> bool:
    installed = CLEAN_VENV / INSTALLED_FILE
    return (CLEAN_VENV / "bin" / "python").exists() and installed.is_file() and installed.read_text().strip() == pin


class CleanVenvBuild:
    """A build of the clean venv in a background process (none when it is already there)."""

    def __init__(self):
        self.pin = tensorflow_pin()
        self.started = time.monotonic()
        self.process = None
        self.seconds = None  # how long the build took, once it did
        self.error = None  # why it could not be made, once that is known
        if is_ready(self.pin):
            return
        self.building = ROOT / f".venv-export-check.building-{os.getpid()}"
        shutil.rmtree(self.building, ignore_errors=True)
        command = (f"{sys.executable} -m venv {self.building} && "
                   f"{self.building}/bin/python -m pip install --quiet --disable-pip-version-check {self.pin}")
        self.process = subprocess.Popen(["bash", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def wait(self) -> Path:
        """The clean venv's python, once it is ready.

        Raises:
            CleanVenvError: with pip's output, if it could not be made.
        """
        if self.error is not None:
            raise self.error
        if self.process is not None:
            try:
                output, _ = self.process.communicate(timeout=INSTALL_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.stop()
                self.error = CleanVenvError(f"`pip install {self.pin}` into a clean venv took over {INSTALL_TIMEOUT_SECONDS} s")
                raise self.error from None
            returncode, self.process = self.process.returncode, None
            if returncode != 0:
                shutil.rmtree(self.building, ignore_errors=True)
                self.error = CleanVenvError(f"a clean venv holding only {self.pin} could not be made:\n{output[-3000:]}")
                raise self.error
            (self.building / INSTALLED_FILE).write_text(self.pin + "\n")
            if is_ready(self.pin):  # another session finished one meanwhile
                shutil.rmtree(self.building, ignore_errors=True)
            else:
                shutil.rmtree(CLEAN_VENV, ignore_errors=True)
                self.building.rename(CLEAN_VENV)
            self.seconds = time.monotonic() - self.started
        return CLEAN_VENV / "bin" / "python"

    def stop(self) -> None:
        """End a build still going (the session ended first) and remove its half-made folder."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
            shutil.rmtree(self.building, ignore_errors=True)


_build: CleanVenvBuild | None = None


def start() -> CleanVenvBuild:
    """Start making the clean venv, once a session; returns the build to wait on."""
    global _build
    if _build is None:
        _build = CleanVenvBuild()
    return _build


def stop() -> None:
    if _build is not None:
        _build.stop()
