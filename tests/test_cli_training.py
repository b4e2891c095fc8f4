"""``convlab train`` as a new user meets it: resuming and extending a run, a run directory that
is already taken, the validation split that chooses best.npz, comparable curves, and what the
terminal shows (progress, epoch lines, Ctrl-C)."""

import io
import json
import os
import re
import shutil
import time

import numpy as np
import pytest
from rich.console import Console

from convlab.cli import main
from convlab.training import TrainConfig, evaluate, load_datasets, train
from convlab.training import figures
from convlab.training.loop import load_checkpoint, model_from_checkpoint
from convlab.training.report import Reporter


def quiet():
    return Reporter(quiet=True)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished two-epoch digits run (copy it before changing it)."""
    out = tmp_path_factory.mktemp("runs") / "digits"
    train(TrainConfig(epochs=2, out=str(out)), reporter=quiet())
    return out


@pytest.fixture
def run_copy(finished_run, tmp_path):
    out = tmp_path / "digits"
    shutil.copytree(finished_run, out)
    return out


def test_resume_with_more_epochs_extends_the_run(run_copy, capsys):
    assert main(["train", "--resume", "--epochs", "3", "--out", str(run_copy), "--quiet"]) == 0
    state = load_checkpoint(str(run_copy / "last.npz"))
    assert state["epoch"] == 3 and len(state["history"]) == 3
    assert state["config"]["epochs"] == 3
    # the cosine schedule was stretched over the three epochs: it ends at 0 again
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert "resuming from" in capsys.readouterr().out


def test_resume_of_a_finished_run_says_so(run_copy, capsys):
    before = (run_copy / "last.npz").read_bytes()
    assert main(["train", "--resume", "--out", str(run_copy), "--quiet"]) == 0
    assert "has finished all 2 epochs" in capsys.readouterr().out
    assert (run_copy / "last.npz").read_bytes() == before


def test_resume_refuses_flags_that_cannot_change_and_names_them(run_copy, capsys):
    code = main(["train", "--resume", "--out", str(run_copy), "--lr", "0.5", "--seed", "3",
                 "--epochs", "4", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--lr 0.5 (the run has 0.01)" in err and "--seed 3 (the run has 0)" in err
    assert "Traceback" not in err
    # a flag given with the run's own value is no change
    assert main(["train", "--resume", "--out", str(run_copy), "--lr", "0.01", "--quiet"]) == 0


def test_resume_refuses_fewer_epochs_than_the_run_has(run_copy, capsys):
    assert main(["train", "--resume", "--epochs", "1", "--out", str(run_copy), "--quiet"]) == 2
    assert "already has 2 epochs" in capsys.readouterr().err


def test_an_existing_run_is_not_overwritten_without_force(run_copy, capsys):
    before = (run_copy / "best.npz").read_bytes()
    assert main(["train", "--epochs", "1", "--out", str(run_copy), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--force" in err and "--resume" in err
    assert (run_copy / "best.npz").read_bytes() == before
    assert main(["train", "--epochs", "1", "--out", str(run_copy), "--quiet", "--force"]) == 0
    assert load_checkpoint(str(run_copy / "last.npz"))["epoch"] == 1
    assert main(["train", "--resume", "--force", "--out", str(run_copy)]) == 2


def test_resume_removes_leftover_temporary_files(run_copy, capsys):
    leftover = run_copy / ".tmp-last.npz-x1y2.npz"
    leftover.write_bytes(b"half a checkpoint")
    assert main(["train", "--resume", "--epochs", "3", "--out", str(run_copy), "--quiet"]) == 0
    assert not leftover.exists()
    assert "removed 1 unfinished temporary file" in capsys.readouterr().out


def test_resume_with_only_best_npz_is_refused_clearly(run_copy, capsys):
    (run_copy / "last.npz").unlink()
    assert main(["train", "--resume", "--out", str(run_copy), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "only best.npz" in err and "copy best.npz to last.npz" in err


def test_the_run_directory_is_checked_before_training(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    assert main(["train", "--out", str(blocker / "run"), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert "cannot write to the run directory" in captured.err
    assert "epoch" not in captured.out  # refused before the first epoch, not after it


def test_best_npz_is_chosen_on_validation_images_and_tested_once(finished_run):
    metrics = json.loads((finished_run / "metrics.json").read_text())
    history = metrics["history"]
    assert {"validation_loss", "validation_accuracy"} <= set(history[0])
    assert not any(key.startswith("test") for row in history for key in row)
    best = max(history, key=lambda row: row["validation_accuracy"])
    assert metrics["best_epoch"] == best["epoch"]
    # the test accuracy reported is that of best.npz
    state = load_checkpoint(str(finished_run / "best.npz"))
    assert state["epoch"] == best["epoch"]
    train_set, validation_set, test_set = load_datasets("digits", None, 0.1, 0)
    assert len(train_set) + len(validation_set) == 1347 and len(test_set) == 450
    assert not set(train_set.indices) & set(validation_set.indices)
    tested = evaluate(model_from_checkpoint(state), test_set)
    assert tested["accuracy"] == metrics["test_accuracy"]


def test_curves_compare_like_with_like(finished_run, monkeypatch):
    """Validation loss uses the label smoothing the training loss has, and the lines say what
    they are."""
    metrics = json.loads((finished_run / "metrics.json").read_text())
    state = load_checkpoint(str(finished_run / "last.npz"))
    _, validation_set, _ = load_datasets("digits", None, 0.1, 0)
    checked = evaluate(model_from_checkpoint(state), validation_set, label_smoothing=0.1)
    assert metrics["history"][-1]["validation_loss"] == pytest.approx(checked["loss"])

    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, path: drawn.append(fig) or path)
    figures.plot_curves(metrics["history"], "curves.png", label_smoothing=0.1)
    loss_axis = drawn[0].axes[0]
    labels = [text.get_text() for text in loss_axis.get_legend().get_texts()]
    assert any("training" in label for label in labels)
    assert any("validation" in label for label in labels)
    assert "label smoothing 0.1" in loss_axis.get_ylabel()


def test_piped_output_has_no_progress_bar_no_blank_lines_and_fits_80_columns(tmp_path,
                                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)
    stream = io.StringIO()
    train(TrainConfig(epochs=1, out="run"), reporter=Reporter(Console(file=stream, width=80)))
    lines = stream.getvalue().splitlines()
    assert "" not in lines
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["epoch", "train",
                                                                            "loss"])
    assert lines[header + 1].split()[0] == "1/1"
    assert "1 epoch," in stream.getvalue() and "1 epochs" not in stream.getvalue()
    assert "nan" not in stream.getvalue()


def test_progress_bar_on_a_terminal_starts_without_nan_and_counts_seconds():
    stream = io.StringIO()
    reporter = Reporter(Console(file=stream, width=80, force_terminal=True))
    with reporter.epoch_progress(1, 1, steps=3) as bar:
        for _ in range(3):
            bar.step(0.5, 0.75)
    shown = stream.getvalue()
    assert "nan" not in shown and "0.00%" not in shown
    assert "loss 0.5000 acc 75.00%" in shown
    assert re.search(r"\d+\.\ds", shown)  # seconds with a tenth, not 0:00:00


class InterruptAfter(Reporter):
    """Presses Ctrl-C once the given epoch is reported."""

    def __init__(self, epoch, stream):
        super().__init__(Console(file=stream, width=80), quiet=True)
        self.epoch = epoch

    def epoch_done(self, row):
        super().epoch_done(row)
        if row["epoch"] == self.epoch:
            raise KeyboardInterrupt


def test_ctrl_c_names_the_out_directory_to_resume(tmp_path):
    stream = io.StringIO()
    out = str(tmp_path / "my run")
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(epochs=3, out=out), reporter=InterruptAfter(1, stream))
    assert f"convlab train --resume --out {out}" in stream.getvalue()


def test_a_model_that_does_not_fit_the_data_is_refused_up_front(tmp_path, capsys):
    assert main(["train", "--model", "lenet5", "--out", str(tmp_path / "run")]) == 2
    captured = capsys.readouterr()
    assert "--model lenet5 does not fit --data digits" in captured.err
    assert "epoch" not in captured.out
    assert not os.path.exists(tmp_path / "run" / "last.npz")


def test_validation_fraction_is_checked(tmp_path, capsys):
    assert main(["train", "--validation", "1.5", "--out", str(tmp_path), "--quiet"]) == 2
    assert "--validation must be a fraction" in capsys.readouterr().err


def test_evaluate_takes_a_run_directory(finished_run, capsys):
    assert main(["evaluate", str(finished_run)]) == 0
    out = capsys.readouterr().out
    metrics = json.loads((finished_run / "metrics.json").read_text())
    assert f"{metrics['test_accuracy']:.2%}" in out
    assert main(["evaluate", str(finished_run.parent)]) == 2
    assert "directory without a best.npz" in capsys.readouterr().err


def test_evaluate_on_a_checkpoint_without_a_model_is_one_line(tmp_path, capsys):
    import convlab

    path = tmp_path / "no_model.npz"
    convlab.save({"format": "convlab-train-checkpoint", "epoch": 1,
                  "config": {"data": "digits", "model": "digits-cnn", "root": None}}, str(path))
    assert main(["evaluate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "has no model entry" in err and str(path) in err
    assert len(err.strip().splitlines()) == 1


def test_predict_top_must_be_positive(finished_run, tmp_path, capsys):
    from PIL import Image

    image = tmp_path / "x.png"
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(image)
    assert main(["predict", str(finished_run), str(image), "--top", "0"]) == 2
    assert "--top must be at least 1, got 0" in capsys.readouterr().err


def test_epoch_lines_fit_80_columns_at_their_widest():
    stream = io.StringIO()
    reporter = Reporter(Console(file=stream, width=80))
    reporter.epochs = 1000
    reporter.epoch_done({"epoch": 1000, "train_loss": 12.3456, "train_accuracy": 1.0,
                         "validation_loss": 12.3456, "validation_accuracy": 1.0,
                         "images_per_second": 123456.0})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and all(len(line) <= 80 for line in lines)
    assert lines[1].split() == ["1000/1000", "12.3456", "100.00%", "12.3456", "100.00%",
                                "123,456"]


def test_progress_bar_says_when_kernels_compile_and_the_note_fits_80_columns():
    stream = io.StringIO()
    reporter = Reporter(Console(file=stream, width=80, force_terminal=True))
    with reporter.epoch_progress(1, 1, steps=2) as bar:
        bar.compiling()
        time.sleep(0.3)  # rich redraws from its own thread
        bar.step(0.5, 0.75)
        bar.step(0.5, 0.75)
    reporter.compiled(26.4)
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())  # colours, redraws
    assert "compiling kernels (first run only)" in shown
    assert "26 s compiling kernels, once" in shown
    plain = Reporter(Console(file=io.StringIO(), width=80), quiet=True)
    plain.compiled(26.4)
    assert plain.console.file.getvalue() == ""  # quiet: only the essentials
    note = [line for line in shown.splitlines() if "compiling kernels, once" in line]
    assert note and all(len(line) <= 80 for line in note)
