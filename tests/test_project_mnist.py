"""A project-local MNIST (`data/mnist.npz`, put there by the user: the repository ships none), the
loader's search order, and downloads only on request.

Issue 18: a fresh clone without internet found no MNIST unless `MNIST_PATH` was set; the shared copy
must not be copied into the repository, so a copy put in `data/` (ignored by git) is found, checked
by its bytes or its arrays, and its absence names the fixes. Issue 17: a
missing `$MNIST_PATH` made a worker fall back to Keras's download, which has no timeout, so an
offline server's first job waited for ever. The downloads here come from a real HTTP server on
127.0.0.1; nothing leaves the machine.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import core.data.mnist
from core.cli import main as cli_main
from core.data.mnist import (
    ARRAY_SHA256, PROJECT_FILE_SHA256, PROJECT_MNIST_PATH, DatasetError, candidate_paths, download_mnist, file_sha256,
    load_mnist, read_mnist_file,
)

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_COPY = Path(os.environ["MNIST_PATH"])  # the shared copy the tests use (tests/conftest.py)


@pytest.fixture
def no_network(monkeypatch):
    """Record any attempt to open a URL, and fail it as an offline machine would."""
    attempts = []

    def offline_urlopen(url, *args, **kwargs):
        attempts.append(url)
        raise OSError("Network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline_urlopen)
    return attempts


@pytest.fixture
def project_copy(tmp_path, monkeypatch):
    """`PROJECT_MNIST_PATH` and Keras's cache moved to scratch paths (empty), and no `MNIST_PATH`."""
    path = tmp_path / "data" / "mnist.npz"
    path.parent.mkdir()
    monkeypatch.setattr(core.data.mnist, "PROJECT_MNIST_PATH", path)
    monkeypatch.setattr(core.data.mnist, "KERAS_CACHE_PATH", tmp_path / "keras" / "mnist.npz")
    monkeypatch.delenv("MNIST_PATH", raising=False)
    return path


# --- a copy put in data/ ----------------------------------------------------------------------------

def test_data_readme_gives_the_reference_copys_checksums_and_licence():
    assert PROJECT_MNIST_PATH == ROOT / "data" / "mnist.npz"
    assert file_sha256(REFERENCE_COPY) == PROJECT_FILE_SHA256
    readme = (ROOT / "data" / "README.md").read_text()
    assert PROJECT_FILE_SHA256 in readme and "CC BY-SA 3.0" in readme and "LeCun" in readme and "Cortes" in readme
    assert "download-mnist" in readme and "MNIST_PATH" in readme
    for key, digest in ARRAY_SHA256.items():
        assert f"{key}" in readme and digest in readme


def test_git_ignores_a_copy_put_in_data_and_the_repository_holds_none():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")  # e.g. an unpacked source archive
    tracked = subprocess.run(["git", "ls-files", "data/"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert tracked.stdout.split() == ["data/README.md"]
    ignored = subprocess.run(["git", "check-ignore", "-q", "data/mnist.npz"], cwd=ROOT)
    assert ignored.returncode == 0, ".gitignore does not ignore data/mnist.npz"


def test_without_mnist_path_a_copy_in_data_is_found_first_and_nothing_is_downloaded(project_copy, no_network):
    shutil.copyfile(REFERENCE_COPY, project_copy)
    assert candidate_paths()[0] == project_copy
    mnist = load_mnist()
    assert mnist.path == str(project_copy)
    assert np.bincount(mnist.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert no_network == []


def test_a_missing_mnist_path_fails_at_once_naming_it_and_looks_nowhere_else(project_copy, tmp_path, monkeypatch,
                                                                           no_network):
    shutil.copyfile(REFERENCE_COPY, project_copy)  # a fallback exists, and is not used: the user chose a file
    missing = tmp_path / "typo" / "mnist.npz"
    monkeypatch.setenv("MNIST_PATH", str(missing))
    with pytest.raises(DatasetError) as refused:
        load_mnist()
    message = str(refused.value)
    assert message.startswith(f"MNIST_PATH is set to {missing}, which is not a file."), message
    assert "unset it" in message and str(project_copy) in message
    assert no_network == []


def test_another_faithful_copy_put_in_data_passes_by_its_arrays(project_copy, mnist):
    np.savez_compressed(project_copy, x_train=mnist.x_train, y_train=mnist.y_train,
                        x_test=mnist.x_test, y_test=mnist.y_test)
    assert file_sha256(project_copy) != PROJECT_FILE_SHA256
    assert np.array_equal(load_mnist().x_test, mnist.x_test)


def test_a_changed_pixel_in_the_copy_in_data_is_refused_with_how_to_restore_it(project_copy, mnist):
    x_train = mnist.x_train.copy()
    x_train[7, 14, 14] ^= 1
    np.savez(project_copy, x_train=x_train, y_train=mnist.y_train, x_test=mnist.x_test, y_test=mnist.y_test)
    with pytest.raises(DatasetError) as refused:
        load_mnist()
    message = str(refused.value)
    assert "`x_train` differs from MNIST's" in message and "at data/mnist.npz" in message, message


def test_a_git_lfs_pointer_put_in_data_is_refused_with_how_to_restore_it(project_copy):
    project_copy.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:99b6\nsize 11266754\n")
    with pytest.raises(DatasetError) as refused:
        load_mnist()
    message = str(refused.value)
    assert str(project_copy) in message and "corrupt" in message and "at data/mnist.npz" in message


# --- downloads, only on request, with a timeout ------------------------------------------------------

@contextmanager
def local_http_server(handler_class):
    """A real HTTP server on 127.0.0.1 in a thread; yields its URL for `/mnist.npz`."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mnist.npz"
    finally:
        server.shutdown()
        server.server_close()


class ServesTheReferenceCopy(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = REFERENCE_COPY.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class NeverAnswers(ServesTheReferenceCopy):
    def do_GET(self):
        time.sleep(30)  # the client gives up long before


class Trickles(ServesTheReferenceCopy):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "11266754")
        self.end_headers()
        for _ in range(50):  # 100 bytes every 0.1 s: no read waits long, the whole would take hours
            try:
                self.wfile.write(b"\0" * 100)
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.1)


def test_download_saves_a_verified_copy_atomically(tmp_path, monkeypatch):
    monkeypatch.setattr(core.data.mnist, "DOWNLOAD_FILE_SHA256", PROJECT_FILE_SHA256)  # the local server's file
    destination = tmp_path / "keras" / "mnist.npz"
    with local_http_server(ServesTheReferenceCopy) as url:
        assert download_mnist(destination, timeout=60, url=url) == destination
    assert file_sha256(destination) == PROJECT_FILE_SHA256
    assert sorted(path.name for path in destination.parent.iterdir()) == ["mnist.npz"]  # no partial file left


def test_download_of_a_file_that_is_not_kerass_is_refused_and_nothing_is_saved(tmp_path):
    destination = tmp_path / "keras" / "mnist.npz"
    with local_http_server(ServesTheReferenceCopy) as url:
        with pytest.raises(DatasetError) as refused:
            download_mnist(destination, timeout=60, url=url)
    assert "is not Keras's mnist.npz (sha256 mismatch)" in str(refused.value) and url in str(refused.value)
    assert list(destination.parent.iterdir()) == []


def test_download_from_a_server_that_never_answers_gives_up_with_the_fix(tmp_path):
    destination = tmp_path / "mnist.npz"
    with local_http_server(NeverAnswers) as url:
        with pytest.raises(DatasetError) as refused:
            download_mnist(destination, timeout=1, url=url)
    message = str(refused.value)
    assert message.startswith(f"downloading MNIST from {url} failed (") and "timed out" in message, message
    assert "Check the connection" in message and not destination.exists()


def test_download_that_trickles_stops_at_the_whole_downloads_deadline(tmp_path):
    destination = tmp_path / "mnist.npz"
    with local_http_server(Trickles) as url:
        with pytest.raises(DatasetError) as refused:
            download_mnist(destination, timeout=1, url=url)
    assert "not finished after 1 s" in str(refused.value), str(refused.value)
    assert list(tmp_path.iterdir()) == []


def test_download_timeout_must_be_positive(tmp_path, capsys):
    with pytest.raises(ValueError, match="`timeout` must be a positive number of seconds. Received: timeout=0"):
        download_mnist(tmp_path / "mnist.npz", timeout=0)
    assert cli_main(["download-mnist", "--timeout", "0", "--to", str(tmp_path / "mnist.npz")]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "error: --timeout must be a positive number of seconds, got 0", error


def test_cli_download_offline_exits_with_one_line_naming_the_address(tmp_path, monkeypatch, capsys):
    with local_http_server(NeverAnswers) as url:
        monkeypatch.setattr(core.data.mnist, "DOWNLOAD_URL", url)
        status = cli_main(["download-mnist", "--to", str(tmp_path / "mnist.npz"), "--timeout", "1"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith(f"error: downloading MNIST from {url} failed"), lines


def test_load_mnist_downloads_only_when_asked(project_copy, monkeypatch):
    monkeypatch.setattr(core.data.mnist, "DOWNLOAD_FILE_SHA256", PROJECT_FILE_SHA256)
    with local_http_server(ServesTheReferenceCopy) as url:
        monkeypatch.setattr(core.data.mnist, "DOWNLOAD_URL", url)
        with pytest.raises(DatasetError, match="MNIST not found"):
            load_mnist()
        assert not core.data.mnist.KERAS_CACHE_PATH.exists()
        downloaded = load_mnist(download=True)
    assert downloaded.path == str(core.data.mnist.KERAS_CACHE_PATH)
    assert load_mnist().path == downloaded.path  # found in Keras's cache from now on
