"""A run trained on another machine, recorded here: the same run folder as `RunWriter` writes.

The machine that trains (a Ray node) records with `RecordedRun` into a folder of its own, and
streams its events; this side mirrors them into the local runs directory as they arrive:
`config.json` and `status.json` when the run starts, one `metrics.jsonl` line per epoch (and the
batch-level points where `RunWriter` records them). When the
run ends, the node ships its finished files as bytes (`collect_run_files`); `RunMirror.finish_from`
writes each atomically (the model, its NumPy file, the predictions, the TensorBoard logs, each kept
checkpoint as a whole folder: checkpoints arrive at the end, not as each epoch ends), then
`status.json` last, so a reader that sees the run ended also finds its files.

Nothing here imports TensorFlow: the TensorBoard logs are the node's own, shipped at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path, PurePosixPath

from core.runs.atomic_files import write_bytes_atomic
from core.runs.checkpoints import CHECKPOINTS_DIR, epoch_folder_name, epoch_of_folder, epochs_in, write_checkpoint_folder
from core.runs.run_writer import RunWriter
from core.runs.store import CONFIG_FILE, METRICS_FILE, STATUS_FILE, RunError
from core.training.events import RUNNING, EpochEnd, RunDone

MIRRORED_LIVE = (CONFIG_FILE, METRICS_FILE)  # written here as the run goes, never replaced from the node
FINAL_STATUS_KEYS = ("status", "reason", "epochs_completed", "best_epoch", "model_epoch", "test_loss", "test_accuracy",
                     "one_cycle")


def collect_run_files(folder: str | os.PathLike) -> dict[str, bytes]:
    """Every regular file under a run folder, by its `/`-separated path inside it (links skipped)."""
    folder = Path(folder)
    files: dict[str, bytes] = {}
    for directory, _, names in os.walk(folder):  # never follows links to folders
        for name in sorted(names):
            path = Path(directory) / name
            if path.is_file() and not path.is_symlink():
                files[path.relative_to(folder).as_posix()] = path.read_bytes()
    return files


def returned_files(folder: str | os.PathLike, came: dict[str, bytes]) -> dict[str, bytes]:
    """What a node sends back of a run folder: `collect_run_files`, but for the files that `came` with its task
    (`core.runs.continuations.continuation_files`) and are unchanged: a resumed run's earlier checkpoints stay
    where they lie, and only what the node added to them travels (their test-set predictions)."""
    return {path: data for path, data in collect_run_files(folder).items() if came.get(path) != data}


def _safe_relative(name: str) -> PurePosixPath:
    """`name` as a path that stays inside the run folder.

    Raises:
        RunError: for an absolute path, `..`, or an empty part.
    """
    path = PurePosixPath(name)
    if not name or path.is_absolute() or any(part in ("", ".", "..") for part in path.parts) or "\\" in name:
        raise RunError(f"Refused to write {name!r} into a run folder: not a plain path inside it.")
    return path


class RunMirror(RunWriter):
    """The local copy of a run that trains elsewhere.

    Args:
        config: the run's config (written at once, with a `running` status owned by this process:
            if this process dies first, the run reads back as `interrupted`).
        runs_dir: the local runs directory.
        name: the run's name (the same on both machines).

    Raises:
        RunError: if the name is invalid or taken, or the runs directory cannot be written.
    """

    @property
    def ended(self) -> bool:
        """Whether this side already wrote how the run ended."""
        return self._status.get("status") != RUNNING

    def record(self, event) -> None:
        """Mirror one streamed event as `RecordedRun` records it on the node.

        An `EpochEnd` becomes its `metrics.jsonl` line; a batch-level point (`Progress`, a
        learning-rate change) goes where `RunWriter.append_point` puts it, where the writer has
        that method. The node's own copies of those point files replace these at the end.
        """
        if isinstance(event, EpochEnd):
            self.append_epoch(event)
        elif not isinstance(event, RunDone) and hasattr(self, "append_point"):
            self.append_point(event)

    def _log_scalars(self, epoch: EpochEnd) -> None:
        """Nothing: the node writes the TensorBoard logs, and they arrive with the finished files."""

    def write_files(self, files: dict[str, bytes], kept_checkpoints=None) -> None:
        """Write shipped files into the run folder, each atomically; `status.json` is left to `finish_from`.

        `config.json` and `metrics.jsonl` are skipped: this side wrote them as the run went. A checkpoint new
        here arrives whole; one already here (a resumed run's earlier epochs) gains the files the node added
        (its test-set predictions). `kept_checkpoints`: the epochs the node's run kept (None = unknown); the
        ones here that it pruned (a resumed run's, by its disk budget) are removed.

        Raises:
            RunError: for a path that would leave the run folder.
            OSError: if a write fails.
        """
        checkpoints: dict[str, dict[str, bytes]] = {}
        for name, data in files.items():
            relative = _safe_relative(name)
            if name in MIRRORED_LIVE or name == STATUS_FILE:
                continue
            if relative.parts[0] == CHECKPOINTS_DIR:  # a checkpoint arrives whole, as the node wrote it
                if len(relative.parts) == 3 and epoch_of_folder(relative.parts[1]) is not None:
                    checkpoints.setdefault(relative.parts[1], {})[relative.parts[2]] = data
                continue  # a temporary folder the node left: never mirrored
            target = self.path.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(target, data)
        for folder, folder_files in sorted(checkpoints.items()):
            here = self.path / CHECKPOINTS_DIR / folder
            if here.is_dir() and not here.is_symlink():  # an earlier epoch of a resumed run: what the node added
                for name, data in folder_files.items():
                    write_bytes_atomic(here / name, data)
            else:
                write_checkpoint_folder(here, folder_files)
        if kept_checkpoints is not None:  # the node's are the run's: a resumed run's checkpoints it pruned go here too
            kept = {int(epoch) for epoch in kept_checkpoints}
            for epoch in epochs_in(self.path / CHECKPOINTS_DIR):
                if epoch not in kept:
                    shutil.rmtree(self.path / CHECKPOINTS_DIR / epoch_folder_name(epoch), ignore_errors=True)

    def finish_from(self, files: dict[str, bytes], origin: dict | None = None, kept_checkpoints=None) -> None:
        """Write the node's finished files, then the status: how the node's `status.json` says the run ended.

        The node's pid and clock stay on the node: this status keeps this side's start time.

        Args:
            files: what `collect_run_files` read on the node (but for what it was sent and left unchanged).
            origin: where it trained (e.g. the Ray node), kept in `status.json` under `"origin"`.
            kept_checkpoints: the epochs whose checkpoints the node's run kept (see `write_files`).

        Raises:
            RunError: for a shipped path that would leave the run folder, or a node status that does not parse.
            OSError: if a write fails.
        """
        try:
            node_status = json.loads(files.get(STATUS_FILE, b"{}"))
        except (ValueError, UnicodeDecodeError) as error:
            raise RunError(f"The node sent a {STATUS_FILE} that does not parse ({error}).") from None
        if not isinstance(node_status, dict):
            raise RunError(f"The node sent a {STATUS_FILE} that is not a JSON object.")
        self.write_files(files, kept_checkpoints)
        self._status.update({key: node_status.get(key) for key in FINAL_STATUS_KEYS if key in node_status})
        resumes, node_resumes = self._status.get("resumed"), node_status.get("resumed")
        if resumes and isinstance(node_resumes, list) and node_resumes and isinstance(node_resumes[-1], dict) \
                and "one_cycle" in node_resumes[-1]:  # which schedule the resume went on with, as the node said
            resumes[-1]["one_cycle"] = node_resumes[-1]["one_cycle"]
        self._status["ended"] = time.time()
        if origin:
            self._status["origin"] = origin
        self._write_status()

    def fail_from(self, reason: str, origin: dict | None = None) -> None:
        """Mark the run failed with `reason` (never raises), keeping where it trained."""
        if origin:
            self._status["origin"] = origin
        self.fail(reason)
