"""The local copy of a run trained elsewhere (core/runs/run_mirror.py): the same folder RunWriter
writes, files shipped back as bytes written atomically and only inside the run folder."""

import json
import os

import pytest

from core.config.train_config import preset_config
from core.runs.run_mirror import RunMirror, collect_run_files
from core.runs.store import CONFIG_FILE, METRICS_FILE, STATUS_FILE, RunError, load_run
from core.training.events import COMPLETED, RUNNING, EpochEnd, RunDone

CONFIG = preset_config("mlp", epochs=2, train_size=2000)


def epoch(number: int) -> EpochEnd:
    return EpochEnd(number, 0.5, 0.8, 0.6, 0.75, 0.1, 1.0, 2000.0)


def node_files(tmp_path) -> dict[str, bytes]:
    """What a node's RecordedRun leaves, read as the Ray task reads it."""
    folder = tmp_path / "node" / "run"
    (folder / "logs" / "train").mkdir(parents=True)
    (folder / "model.keras").write_bytes(b"model bytes")
    (folder / "logs" / "train" / "events.out.tfevents.1").write_bytes(b"tb")
    (folder / METRICS_FILE).write_text("node's copy\n")
    (folder / CONFIG_FILE).write_text("{}")
    (folder / STATUS_FILE).write_text(json.dumps({"status": COMPLETED, "reason": "all 2 epochs ran", "pid": 1,
                                                  "started": 1.0, "epochs_completed": 2, "test_accuracy": 0.9}))
    os.symlink("/etc/passwd", folder / "planted")
    return collect_run_files(folder)


def test_collect_reads_every_file_by_its_path_inside_the_folder_but_not_links(tmp_path):
    files = node_files(tmp_path)
    assert sorted(files) == [CONFIG_FILE, "logs/train/events.out.tfevents.1", METRICS_FILE, "model.keras", STATUS_FILE]
    assert files["model.keras"] == b"model bytes"
    assert collect_run_files(tmp_path / "missing") == {}


def test_a_mirror_streams_like_a_local_run_then_takes_the_nodes_files_and_status(tmp_path):
    runs_dir = tmp_path / "runs"
    mirror = RunMirror(CONFIG, runs_dir, "mirrored")
    assert load_run("mirrored", runs_dir).status == RUNNING  # owned by this process while it lives
    for number in (1, 2):
        mirror.record(epoch(number))
    mirror.record(RunDone(COMPLETED, "", 2, 0.9, 0.3, "/node/tmp/mirrored", "mirrored"))  # not a line of its own
    assert [e["epoch"] for e in load_run("mirrored", runs_dir).epochs] == [1, 2]

    mirror.finish_from(node_files(tmp_path), origin={"executor": "ray", "node_id": "abc"})
    run = load_run("mirrored", runs_dir)
    assert run.status == COMPLETED and run.test_accuracy == pytest.approx(0.9) and [e["epoch"] for e in run.epochs] == [1, 2]
    folder = runs_dir / "mirrored"
    assert (folder / "model.keras").read_bytes() == b"model bytes"
    assert (folder / "logs" / "train" / "events.out.tfevents.1").read_bytes() == b"tb"
    assert json.loads((folder / CONFIG_FILE).read_text())["model"] == "mlp"  # this side's config, not the node's "{}"
    assert "node's copy" not in (folder / METRICS_FILE).read_text()
    status = json.loads((folder / STATUS_FILE).read_text())
    assert status["origin"] == {"executor": "ray", "node_id": "abc"}
    assert status["pid"] == os.getpid() and status["started"] > 1.0  # this side's process and clock
    assert not (folder / "planted").exists()


@pytest.mark.parametrize("name", ["../escaped", "/etc/escaped", "logs/../../escaped", "", "a\\b"])
def test_a_shipped_path_that_would_leave_the_run_folder_is_refused(tmp_path, name):
    mirror = RunMirror(CONFIG, tmp_path / "runs", "guarded")
    with pytest.raises(RunError, match="Refused"):
        mirror.write_files({name: b"x"})
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "runs" / "escaped").exists()


def test_a_status_from_the_node_that_does_not_parse_is_a_run_error(tmp_path):
    mirror = RunMirror(CONFIG, tmp_path / "runs", "garbled")
    with pytest.raises(RunError, match="does not parse"):
        mirror.finish_from({STATUS_FILE: b"{not json"})
    mirror.fail_from("the node sent garbage", origin={"node_id": "abc"})
    run = load_run("garbled", tmp_path / "runs")
    assert run.status == "failed" and run.reason == "the node sent garbage"


def test_a_nodes_checkpoints_arrive_whole_and_read_back_as_on_the_node(mnist, tmp_path):
    from core.runs.checkpoints import CHECKPOINTS_DIR, list_checkpoints, load_checkpoint_numpy_model, load_checkpoint_predictions
    from core.runs.recorded_run import RecordedRun

    node_runs = tmp_path / "node"
    config = preset_config("mlp", epochs=2, train_size=300, validation_size=100, batch_size=50)
    list(RecordedRun(config, runs_dir=node_runs, name="trained", mnist=mnist))
    (node_runs / "trained" / CHECKPOINTS_DIR / ".epoch-0003.tmp-abcdef12").mkdir()  # what a killed write leaves
    (node_runs / "trained" / CHECKPOINTS_DIR / ".epoch-0003.tmp-abcdef12" / "predictions.npz").write_bytes(b"half")
    files = collect_run_files(node_runs / "trained")
    assert {name for name in files if name.startswith(CHECKPOINTS_DIR + "/epoch-0001/")} == {
        f"{CHECKPOINTS_DIR}/epoch-0001/{file}" for file in ("keras_state.npz", "model.numpy.npz", "predictions.npz",
                                                            "training_state.json")}

    runs_dir = tmp_path / "runs"
    mirror = RunMirror(config, runs_dir, "trained")
    mirror.finish_from(files)
    assert list_checkpoints(runs_dir, "trained") == list_checkpoints(node_runs, "trained") == [1, 2]
    assert not [p for p in (runs_dir / "trained" / CHECKPOINTS_DIR).iterdir() if p.name.startswith(".")]
    for epoch_number in (1, 2):
        y_here, here = load_checkpoint_predictions(runs_dir, "trained", epoch_number)
        y_node, there = load_checkpoint_predictions(node_runs, "trained", epoch_number)
        assert (y_here == y_node).all() and (here == there).all()
        x = mnist.x_test[:50, :, :, None].astype("float32") / 255.0
        assert (load_checkpoint_numpy_model(runs_dir, "trained", epoch_number).predict(x)
                == load_checkpoint_numpy_model(node_runs, "trained", epoch_number).predict(x)).all()
