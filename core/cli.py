"""The command line: `python -m core train --model NAME [...]`, `sweep [...]`, `runs`, `export`, `embedding`, `robustness`, `calibration` and `download-mnist`."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from dataclasses import fields
from pathlib import Path

from core.config.train_config import ConfigError, TrainConfig, from_dict
from core.data.mnist import DOWNLOAD_TIMEOUT_SECONDS, KERAS_CACHE_PATH, DatasetError
from core.export.run_export import ExportError, run_script, script_file_name, write_script
from core.export.script_header import TENSORFLOW_REQUIREMENT
from core.jobs.executor import JobError, WorkerLost
from core.jobs.executors import EXECUTORS
from core.jobs.memory_cap import MemoryCapError, check_memory_cap
from core.runs.store import RunError, list_runs, new_run_name, resolve_runs_dir, run_path
from core.training.events import RunDone
from core.training.training_health import training_health
from core.config.zoo import MODEL_NAMES, SPECS
from core.sweep_cli import add_sweep_parser, sweep_command
from core.report_cli import add_report_parsers, calibration_command, robustness_command

USAGE_ERROR = 2
MAP_GRACE_SECONDS = 180.0  # a run's map (t-SNE of 5,000 digits) takes ~10-30 s on 2 cores, more under load
INTERRUPTED_STATUS = 130  # 128 + SIGINT: what a shell reports for a program ended by Ctrl-C


class UsageError(Exception):
    """Bad command-line input: reported as one line on stderr with exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see `python -m core {self.prog.split()[-1]} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m core", description="MNIST training lab: train zoo models, list runs, export a run as a script.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    train = commands.add_parser("train", help="train a zoo model and save the run")
    train.add_argument("--model", help=f"one of {', '.join(MODEL_NAMES)} (required unless --fork)")
    train.add_argument("--fork", metavar="RUN:EPOCH",
                       help="a new run that continues from RUN's checkpoint at EPOCH with its settings, changed by the flags "
                            "given (--epochs: epochs more); see `python -m core runs --checkpoints RUN`")
    train.add_argument("--resume", metavar="RUN",
                       help="go on with RUN itself from its last kept checkpoint, for --epochs N more epochs, its settings "
                            "unchanged (an interrupted, stopped or finished run)")
    for field in fields(TrainConfig):
        if field.name != "model":
            train.add_argument("--" + field.name.replace("_", "-"), dest=field.name, default=None, metavar=field.type.upper(),
                               help=f"(default: the model's preset, else {field.default!r})")
    train.add_argument("--name", help="the run's folder name (default: <model>-<date>-<time>-<random>)")
    train.add_argument("--runs-dir", help="where runs are saved (default: $MNIST_LAB_RUNS_DIR or runs/)")
    train.add_argument("--mnist-path", help="an mnist.npz to use (default: $MNIST_PATH, else data/mnist.npz, else Keras's cache)")
    train.add_argument("--json", action="store_true",
                       help="print one JSON object per batch-level point (`batch`) and per epoch, and a last `done` line")
    train.add_argument("--executor", choices=EXECUTORS, default=None,
                       help="where the training runs: `local` worker process (default, or $MNIST_LAB_EXECUTOR) or a `ray` cluster ($RAY_ADDRESS)")
    runs = commands.add_parser("runs", help="list saved runs")
    runs.add_argument("--runs-dir", help="where runs are saved")
    runs.add_argument("--json", action="store_true", help="one JSON object per run")
    runs.add_argument("--checkpoints", metavar="RUN", help="list RUN's kept checkpoints instead, one line each")
    export = commands.add_parser("export", help="write a run's standalone training script (plain Keras, no import of this lab)")
    export.add_argument("--run", required=True, metavar="NAME", help="the run to export (see `python -m core runs`)")
    export.add_argument("--out", default=None, metavar="FILE", help="the file to write (default: train_NAME.py here); - prints it")
    export.add_argument("--force", action="store_true", help="replace FILE if it exists (refused otherwise)")
    export.add_argument("--runs-dir", help="where runs are saved")
    add_sweep_parser(commands)
    add_embedding_parser(commands)
    add_report_parsers(commands)
    download = commands.add_parser("download-mnist", help="download MNIST once into Keras's cache, with a timeout (the one step that needs the internet)")
    download.add_argument("--to", default=None, help=f"where to save it (default: Keras's cache, {KERAS_CACHE_PATH}, which the loader searches)")
    download.add_argument("--timeout", type=float, default=DOWNLOAD_TIMEOUT_SECONDS, metavar="SECONDS",
                          help=f"give up after this long (default {DOWNLOAD_TIMEOUT_SECONDS:g})")
    return parser


def make_config(args: argparse.Namespace) -> TrainConfig:
    """The model's preset (a fork: its parent's config; a resume: the run's own) with every flag the user gave applied on top."""
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if f.name != "model" and getattr(args, f.name) is not None}
    if getattr(args, "resume", None) is not None:
        return resume_config(args, given)
    if getattr(args, "fork", None) is not None:
        from core.runs.continuations import check_fork
        from core.runs.store import load_run

        parent, epoch = parse_fork(args.fork)
        config = from_dict({**load_run(parent, args.runs_dir).config, **({"model": args.model} if args.model else {}), **given})
        check_fork(args.runs_dir, config, parent, epoch)  # refused here, before any worker starts
        return config
    if args.model is None:
        raise UsageError("the following arguments are required: --model (or --fork RUN:EPOCH)")
    if args.model not in SPECS:
        raise ConfigError(f"Unknown model {args.model!r}. Pass one of {list(MODEL_NAMES)}.")
    return from_dict({"model": args.model, **SPECS[args.model].preset, **given})


def resume_config(args: argparse.Namespace, given: dict) -> TrainConfig:
    """The config of `--resume RUN --epochs N`: RUN's own, for N more epochs.

    Raises:
        UsageError: for a flag a resume does not take (settings: a resume goes on as the run was).
        RunError: RUN is unknown, still training or has no checkpoint (before any worker starts).
    """
    from core.runs.continuations import resume_epoch
    from core.runs.store import load_run

    others = sorted(name for name in given if name != "epochs") + [flag for flag in ("model", "fork", "name")
                                                                   if getattr(args, flag) is not None]
    if others:
        shown = ", ".join("--" + name.replace("_", "-") for name in others)
        raise UsageError(f"--resume goes on with the run's own settings, so it takes no {shown}; pass only --epochs N "
                         f"(to change settings, fork it instead: --fork {args.resume}:EPOCH)")
    if "epochs" not in given:
        raise UsageError(f"--resume needs --epochs N, the epochs to train more (e.g. --resume {args.resume[:80]} --epochs 2)")
    resume_epoch(args.runs_dir, args.resume)  # refused here, before any worker starts
    return from_dict({**load_run(args.resume, args.runs_dir).config, "epochs": given["epochs"]})


def parse_fork(text: str) -> tuple[str, int]:
    """`"RUN:EPOCH"` as `(run, epoch)`.

    Raises:
        UsageError: for anything else, with an example.
    """
    run, _, epoch = text.rpartition(":")
    if not run or not epoch.isdigit() or int(epoch) < 1:
        raise UsageError(f"--fork takes RUN:EPOCH, a run and one of its kept epochs (e.g. --fork mlp-20261206-0500-ab12:3). "
                         f"Received: --fork {text[:100]!r}")
    return run, int(epoch)


def progress_bar(fraction: float, width: int = 30) -> str:
    done = int(round(fraction * width))
    return "[" + "#" * done + "." * (width - done) + f"] {fraction:4.0%}"


def train_command(args: argparse.Namespace) -> int:
    from core.data.mnist import load_mnist
    from core.jobs.executor import STOP, Command, JobRequest
    from core.jobs.executors import make_executor

    config = make_config(args)
    check_memory_cap(config)  # over this machine's cap per training: refused before any worker starts
    runs_dir = resolve_runs_dir(args.runs_dir)
    name = args.resume or (new_run_name(config.model) if args.name is None else args.name)
    path = run_path(runs_dir, name)  # a bad name is refused here, before any worker starts
    mnist_path = None if args.mnist_path is None else str(Path(args.mnist_path).resolve())
    load_mnist(mnist_path)  # a missing or damaged file is reported here too (NumPy only, no TensorFlow)
    fork_from = None if args.fork is None else parse_fork(args.fork)
    if args.resume is not None:
        from core.runs.continuations import resume_epoch

        last_epoch = resume_epoch(runs_dir, name) + config.epochs  # a fork's and a resume's epochs are numbered on
    else:
        last_epoch = (0 if fork_from is None else fork_from[1]) + config.epochs
    if args.resume is not None or fork_from is not None:  # a one-cycle continuation says which cycle it trains with
        from core.runs.continuations import continuation_schedule_note

        note = continuation_schedule_note(runs_dir, *(fork_from or (name, last_epoch - config.epochs)), config)
        if note:
            print(note, file=sys.stderr)
    # Workers started while Ctrl-C is ignored keep ignoring it (an ignored signal survives `spawn`'s
    # exec), so the terminal's SIGINT, sent to the whole process group, reaches only this process.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        executor = make_executor(args.executor, slots=1, mnist_path=mnist_path)
    except BaseException:
        signal.signal(signal.SIGINT, previous)
        raise
    presses = 0
    line_start = "" if args.json else "\n"  # below the progress bar, which has no newline of its own

    def on_ctrl_c(*_) -> None:
        nonlocal presses
        presses += 1
        if presses > 1:
            raise _StopAtOnce
        handle.send(Command(STOP))
        print(f"{line_start}stopping after the current batch; press Ctrl-C again to stop at once", file=sys.stderr, flush=True)

    epochs, last_health, event = [], None, None
    try:
        handle = executor.start(JobRequest(config, name, str(runs_dir), mnist_path, fork_from=fork_from,
                                           resume=args.resume is not None))
        signal.signal(signal.SIGINT, on_ctrl_c)
        for number, event in enumerate(handle.events()):
            if number == 0 and not args.json:  # the run folder exists now: it was made before the first event
                print(f"training {config.model} into {path} (Ctrl-C stops after the current batch)", file=sys.stderr)
            print_event(event, last_epoch, args.json)
            if getattr(event, "event", None) == "epoch":
                epochs.append(event)
                health = training_health(epochs)
                if health is not None and health.kind != last_health:  # each problem once, as it appears
                    print_health(health, args.json)
                last_health = None if health is None else health.kind
    except _StopAtOnce:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a third press changes nothing now
        return stop_at_once(executor, runs_dir, name, line_start)
    finally:
        signal.signal(signal.SIGINT, previous)
        from core.runs.feature_files import embedding_digits

        maps_now = isinstance(event, RunDone) and event.test_accuracy is not None and embedding_digits() > 0
        if maps_now and not args.json:
            print("computing the run's map and digit statistics", file=sys.stderr, flush=True)
        executor.close(grace_seconds=MAP_GRACE_SECONDS if maps_now else 5.0)  # a local worker writes them after RunDone
    return 0


class _StopAtOnce(Exception):
    """A second Ctrl-C: leave the training now, without waiting for its batch or its saving."""


def stop_at_once(executor, runs_dir: Path, name: str, line_start: str = "") -> int:
    """End the training's worker now, record the run as interrupted with its epochs, say so in one line."""
    from core.runs.lost_runs import mark_interrupted
    from core.runs.store import load_run

    for pid in getattr(executor, "worker_pids", list)():  # local workers; a Ray job ends with `close()`
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    executor.close()
    try:
        mark_interrupted(runs_dir, name, "stopped at once by a second Ctrl-C")
        run = load_run(name, runs_dir)
        kept = f"{run.status}, {len(run.epochs)} finished epoch(s) kept in {run.path}"
    except RunError as error:
        kept = str(error)
    print(f"{line_start}stopped at once: {kept}", file=sys.stderr, flush=True)
    return INTERRUPTED_STATUS


def print_event(event, last_epoch: int, as_json: bool) -> None:
    """One event as the CLI shows it: a JSON line, or a progress bar and epoch lines (`epoch 4/5`: a fork's or a
    resume's epochs are numbered on, and `last_epoch` is the one it ends at).

    As JSON: `{"event": "batch", ...}` for each batch-level point (four a second and one at each
    25th of an epoch: 20 or more in an epoch of 21 batches or more; none in a one-batch epoch),
    `"learning_rate"` for a change mid-run,
    `"epoch"` after each epoch, and a last `"done"`.
    """
    if as_json:
        print(json.dumps(event.to_dict()), flush=True)
    elif event.event == "batch":
        print(f"\repoch {event.epoch}/{last_epoch} {progress_bar(event.fraction)} loss {event.loss:.4f}",
              end="", file=sys.stderr, flush=True)
    elif event.event == "learning_rate":
        print(f"\r\033[Klearning rate {event.previous:g} -> {event.learning_rate:g} in epoch {event.epoch}", flush=True)
    elif event.event == "epoch":
        validation = "" if event.val_loss is None else f"  val_loss {event.val_loss:.4f}  val_accuracy {event.val_accuracy:.4f}"
        print(f"\r\033[Kepoch {event.epoch}/{last_epoch}  loss {event.loss:.4f}  accuracy {event.accuracy:.4f}"
              f"{validation}  {event.seconds:.1f}s", flush=True)
    else:
        score = "" if event.test_accuracy is None else f"  test_accuracy {event.test_accuracy:.4f}"
        if score and event.model_epoch is not None and event.model_epoch != event.epochs_completed:
            score += f" (the model of epoch {event.model_epoch}, its best val_loss)"
        print(f"{event.status}: {event.reason}{score}\nsaved to {event.run_dir}", flush=True)


def print_health(health, as_json: bool) -> None:
    """A training-health warning: `{"event": "health", "kind": ..., "message": ...}` or a `warning:` line."""
    if as_json:
        print(json.dumps({"event": "health", "kind": health.kind, "message": health.message}), flush=True)
    else:
        print(f"warning: {health.message}", flush=True)


def runs_command(args: argparse.Namespace) -> int:
    if args.checkpoints is not None:
        return checkpoints_command(args)
    runs = list_runs(args.runs_dir)
    if args.json:
        for run in runs:
            print(json.dumps({"name": run.name, "model": run.model, "status": run.status, "epochs": len(run.epochs),
                              "best_val_accuracy": run.best_val_accuracy, "test_accuracy": run.test_accuracy,
                              "seconds": run.seconds, "problems": run.problems}))
        return 0
    if not runs:
        print("no saved runs")
        return 0
    print(f"{'name':<40} {'model':<13} {'status':<14} {'epochs':>6} {'best val':>9} {'test':>7} {'time':>8}")
    for run in runs:
        best = "" if run.best_val_accuracy is None else f"{run.best_val_accuracy:.4f}"
        test = "" if run.test_accuracy is None else f"{run.test_accuracy:.4f}"
        print(f"{run.name:<40} {run.model:<13} {run.status:<14} {len(run.epochs):>6} {best:>9} {test:>7} {run.seconds:>7.1f}s")
    return 0


def checkpoints_command(args: argparse.Namespace) -> int:
    """One line per kept checkpoint of run `args.checkpoints`: its epoch, metrics, size and what it holds."""
    from core.runs.checkpoints import checkpoint_path, folder_bytes, list_checkpoints
    from core.runs.store import NUMPY_MODEL_FILE, load_run

    name = args.checkpoints
    run = load_run(name, args.runs_dir)
    kept = list_checkpoints(args.runs_dir, name)
    metrics = {record.get("epoch"): record for record in run.epochs}
    lines = []
    for epoch in kept:
        folder = checkpoint_path(args.runs_dir, name, epoch)
        record = metrics.get(epoch, {})
        marks = [mark for mark, epochs in (("best", (run.best_epoch,)), ("model", (run.model_epoch,))) if epoch in epochs]
        line = {"epoch": epoch, "path": str(folder), "bytes": folder_bytes(folder),
                "numpy_model": (folder / NUMPY_MODEL_FILE).is_file(),
                "val_loss": record.get("val_loss"), "val_accuracy": record.get("val_accuracy"), "marks": marks}
        lines.append(line)
    if args.json:
        for line in lines:
            print(json.dumps(line))
        return 0
    if not lines:
        print(f"run {name!r} has no checkpoints (trained before checkpoints, or with checkpoint_budget_mb=0)")
        return 0
    for line in lines:
        validation = "" if line["val_loss"] is None else f"  val_loss {line['val_loss']:.4f}  val_accuracy {line['val_accuracy']:.4f}"
        print(f"epoch {line['epoch']:>4}  {line['bytes'] / 1e6:6.2f} MB{validation}"
              f"{'  ' + ' '.join(line['marks']) if line['marks'] else ''}  {line['path']}")
    return 0


def export_command(args: argparse.Namespace) -> int:
    """Write run `args.run`'s standalone training script to `args.out` (or print it), never over a file unasked."""
    text = run_script(args.run, args.runs_dir)
    if args.out == "-":
        print(text, end="")
        return 0
    path = write_script(text, args.out or script_file_name(args.run), overwrite=args.force)
    print(f"wrote {path}: it trains the run's model with plain Keras. Run it with `python {path}` where "
          f"`pip install {TENSORFLOW_REQUIREMENT}` was done (MNIST from $MNIST_PATH, else Keras downloads it).")
    return 0


def add_embedding_parser(commands) -> None:
    embedding = commands.add_parser("embedding", help="compute a run's embedding map and 'not a digit' statistics "
                                                      "(runs do it when they end; this is for older runs)")
    which = embedding.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", metavar="NAME", help="the run (see `python -m core runs`)")
    which.add_argument("--pretrained", action="store_true", help="the shipped model (writes pretrained/mnist_fast.*.npz)")
    embedding.add_argument("--runs-dir", help="where runs are saved (default: $MNIST_LAB_RUNS_DIR or runs/)")
    embedding.add_argument("--mnist-path", help="an mnist.npz to use (default: $MNIST_PATH, else data/mnist.npz, else Keras's cache)")
    embedding.add_argument("--method", choices=("tsne", "umap"), default="tsne",
                           help="the map's nonlinear view: tsne (default, openTSNE) or umap (needs umap-learn, not installed)")
    embedding.add_argument("--digits", type=int, default=None, metavar="N",
                           help="test digits on the map, 100 to 10000 (default: $MNIST_LAB_EMBEDDING_DIGITS, else 5000)")
    embedding.add_argument("--statistics-only", action="store_true",
                           help="write novelty.npz alone, keeping the map (statistics from before the combined score)")


def pretrained_detector_note(source) -> str:
    """What the shipped model's rewritten statistics judge with: the outlier detector kept, or how to fit it again."""
    from core.runs.feature_files import read_digit_statistics

    if read_digit_statistics(source).detector is not None:
        return "its outlier detector was kept, its threshold chosen again on these map digits"
    return ("its statistics judge with the combined score: they hold no outlier detector. `make detector-fonts` and "
            "`python bench/fit_outlier_detector.py` fit one again (see the README)")


def run_detector_note(source, mnist, digits: int) -> str:
    """Fit a run's own "not a digit" detector into its `novelty.npz`; one line saying so, or why not (never fatal)."""
    from core.runs.feature_files import feature_file
    from core.runs.run_detector import RUN_DETECTOR_ENV, run_detector_enabled, write_run_detector

    if not run_detector_enabled():
        return f"no 'not a digit' detector of its own (${RUN_DETECTOR_ENV} is 0); the combined score judges"
    try:
        seconds = write_run_detector(Path(source.path).parent, mnist, digits)
    except Exception as error:  # no NumPy model, no images file: the statistics just written judge
        return f"no 'not a digit' detector of its own ({type(error).__name__}: {error}); the combined score judges"
    return f"fitted its own 'not a digit' detector into {feature_file(source, 'novelty.npz')} ({seconds:.1f} s)"


def embedding_command(args: argparse.Namespace) -> int:
    """Write a run's (or the shipped model's) `embedding.npz` and `novelty.npz`; one line with the seconds."""
    from core.data.mnist import load_mnist
    from core.models.numpy_model_layers import UnsupportedModel
    from core.runs.feature_files import (
        MAP_DIGITS, MIN_MAP_DIGITS, embedding_digits, feature_file, feature_prefix, source_features_and_logits,
        write_digit_statistics, write_feature_files,
    )
    from core.runs.model_sources import model_sources

    try:
        digits = args.digits if args.digits is not None else (embedding_digits() or MAP_DIGITS)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if not MIN_MAP_DIGITS <= digits <= 10_000:
        raise UsageError(f"--digits must be from {MIN_MAP_DIGITS} to 10000. Received: --digits {digits}")
    sources = model_sources(args.runs_dir)
    if args.pretrained:
        source = next((source for source in sources if source.is_pretrained), None)
        if source is None:
            raise RunError("The shipped model pretrained/mnist_fast.keras is missing. Run `python scripts/train_pretrained.py`.")
    else:
        run_path(args.runs_dir, args.run)  # a bad name is refused with its own message
        source = next((source for source in sources if source.run_name == args.run), None)
        if source is None:
            raise RunError(f"Run {args.run!r} has no saved model (not found, still training, or it ended before saving one). "
                           "See `python -m core runs`.")
    try:
        features_and_logits = source_features_and_logits(source, pooled=True)
    except UnsupportedModel as error:
        raise RunError(f"{source.label} has no penultimate layer to map: {error}.") from None
    mnist = load_mnist(args.mnist_path)
    if args.statistics_only:
        seconds = write_digit_statistics(Path(source.path).parent, features_and_logits, mnist, map_digits=digits,
                                         prefix=feature_prefix(source))
        print(f"wrote {feature_file(source, 'novelty.npz')} ({seconds:.1f} s)")
        print(pretrained_detector_note(source) if source.is_pretrained else run_detector_note(source, mnist, digits))
        return 0
    seconds = write_feature_files(Path(source.path).parent, features_and_logits, mnist,
                                  map_digits=digits, method=args.method, prefix=feature_prefix(source))
    steps = ", ".join(f"{step} {value:.1f} s" for step, value in seconds.items())
    print(f"wrote {feature_file(source, 'embedding.npz')} and {feature_file(source, 'novelty.npz')} ({steps})")
    print(pretrained_detector_note(source) if source.is_pretrained else run_detector_note(source, mnist, digits))
    if not source.is_pretrained:
        from core.runs.epoch_map_files import EPOCH_MAPS_FILE, compute_kept_epoch_features, numpy_checkpoint_features, write_epoch_maps

        kept = compute_kept_epoch_features(args.runs_dir, source.run_name, numpy_checkpoint_features(args.runs_dir, source.run_name),
                                      mnist, digits)
        if kept is None:
            feature_file(source, EPOCH_MAPS_FILE).unlink(missing_ok=True)  # one from before would not fit the new map
        else:
            seconds = write_epoch_maps(Path(source.path).parent, kept)
            print(f"wrote {feature_file(source, EPOCH_MAPS_FILE)} (the map at {len(kept.features) + 1} kept epochs, "
                  f"{seconds['total']:.1f} s)")
    return 0


def download_command(args: argparse.Namespace) -> int:
    """The only place MNIST is downloaded: on the user's request, with a timeout."""
    from core.data.mnist import download_mnist

    if not args.timeout > 0:
        raise UsageError(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    print(f"saved a verified MNIST to {download_mnist(args.to, timeout=args.timeout)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 for bad input, with one line on stderr)."""
    try:
        args = build_parser().parse_args(argv)
        if args.command == "sweep":
            return sweep_command(args)
        if args.command == "download-mnist":
            return download_command(args)
        if args.command == "export":
            return export_command(args)
        if args.command == "embedding":
            return embedding_command(args)
        if args.command == "robustness":
            return robustness_command(args)
        if args.command == "calibration":
            return calibration_command(args)
        started = time.perf_counter()
        status = train_command(args) if args.command == "train" else runs_command(args)
        if args.command == "train" and not args.json:
            print(f"total {time.perf_counter() - started:.1f}s", file=sys.stderr)
        return status
    except (UsageError, ConfigError, DatasetError, RunError, JobError, WorkerLost, MemoryCapError, ExportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR
