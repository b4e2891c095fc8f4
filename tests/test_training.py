"""The main job end to end: convlab train on the digits, resume, evaluate, predict, figures."""

import json

import numpy as np
import pytest
import convlab
from convlab.cli import main
from convlab.training import TrainConfig, train
from convlab.training.loop import load_checkpoint
from convlab.training.report import Reporter


def without_timing(history):
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_second")}
            for row in history]


def quiet():
    return Reporter(quiet=True)


def test_short_run_writes_everything(tmp_path):
    out = tmp_path / "run"
    metrics = train(TrainConfig(epochs=2, out=str(out)), reporter=quiet())
    for name in ("last.npz", "best.npz", "metrics.json", "curves.png", "filters.png",
                 "feature_maps.png"):
        assert (out / name).exists(), name
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["test_accuracy"] == metrics["test_accuracy"]
    assert len(saved["history"]) == 2
    confusion = np.array(saved["confusion_matrix"])
    assert confusion.shape == (10, 10) and confusion.sum() == 450
    assert metrics["test_accuracy"] > 0.8  # two epochs of Adam already learn most digits


class InterruptAfter(Reporter):
    """Presses Ctrl-C once the given epoch is reported, as a user would."""

    def __init__(self, epoch):
        super().__init__(quiet=True)
        self.epoch = epoch

    def epoch_done(self, row):
        if row["epoch"] == self.epoch:
            raise KeyboardInterrupt


def test_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path):
    whole = train(TrainConfig(epochs=3, out=str(tmp_path / "a")), reporter=quiet())
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(epochs=3, out=str(tmp_path / "b")), reporter=InterruptAfter(1))
    assert load_checkpoint(str(tmp_path / "b" / "last.npz"))["epoch"] == 1
    resumed = train(TrainConfig(out=str(tmp_path / "b")), resume=True, reporter=quiet())
    assert without_timing(resumed["history"]) == without_timing(whole["history"])
    a = load_checkpoint(str(tmp_path / "a" / "last.npz"))["model"]
    b = load_checkpoint(str(tmp_path / "b" / "last.npz"))["model"]
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())


def test_resume_without_checkpoint_is_a_clear_error(tmp_path, capsys):
    code = main(["train", "--out", str(tmp_path / "none"), "--resume", "--quiet"])
    assert code == 2
    assert "no checkpoint to resume from" in capsys.readouterr().err


def test_bad_arguments_exit_cleanly(tmp_path, capsys):
    assert main(["train", "--epochs", "0", "--out", str(tmp_path), "--quiet"]) == 2
    assert "--epochs must be at least 1" in capsys.readouterr().err
    assert main(["train", "--data", "mnist", "--out", str(tmp_path), "--quiet"]) == 2
    assert "--root" in capsys.readouterr().err


def test_evaluate_and_predict(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out / "best.npz")]) == 0
    assert "test accuracy" in capsys.readouterr().out

    # A test digit drawn as a picture: dark strokes on white, bigger than 8x8.
    digit = convlab.data.Digits(train=False)
    image, label = digit[0]
    pixels = (255 * (1 - image.numpy()[0])).astype(np.uint8)
    path = tmp_path / "digit.png"
    Image.fromarray(pixels).resize((64, 64), Image.Resampling.NEAREST).save(path)
    assert main(["predict", str(out / "best.npz"), str(path), "--top", "2"]) == 0
    line = capsys.readouterr().out
    assert str(path) in line and "%" in line


def test_checkpoint_of_another_kind_is_refused(tmp_path, capsys):
    path = tmp_path / "plain.npz"
    convlab.save({"weights": convlab.zeros(2)}, str(path))
    assert main(["evaluate", str(path)]) == 2
    assert "not a convlab training checkpoint" in capsys.readouterr().err
