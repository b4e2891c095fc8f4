"""convlab explore: the page in Chromium (Debian's, through Playwright) shows convlab's numbers,
loads with no console errors and fetches nothing; its controls change the picture; the model
page; the command's files, server and errors."""

import shutil
import subprocess
import sys
import urllib.request

import numpy as np
import pytest

import convlab
from convlab.cli import main
from convlab.explain import parse_layer, trace
from convlab.explain.example import example
from convlab.explain.explore import layer_page, page_config

OPENING = "Conv2d(3, 2, 3, padding=1, padding_mode='reflect')"

# configurations the learner can reach with the controls, each checked number by number
CONFIGS = [
    {},
    {"s": 2, "mode": "zeros"},
    {"mode": "circular", "groups": 1, "cout": 4, "d": 2, "p": 2},
    {"mode": "replicate", "p": 2, "k": 2},
    {"cin": 4, "cout": 4, "groups": 2},
    {"cin": 3, "cout": 3, "groups": 3, "s": 2},
    {"k": 1, "p": 0, "cin": 4, "cout": 2, "mode": "zeros"},
    {"transposed": True, "mode": "zeros", "s": 2, "p": 1, "op": 1},
    {"transposed": True, "mode": "zeros", "s": 3, "p": 0, "k": 2, "cin": 2, "cout": 4,
     "groups": 2},
    {"kind": "max", "k": 3, "s": 2, "p": 1, "mode": "zeros", "cout": 3},
    {"kind": "max", "k": 2, "s": 1, "p": 0, "d": 2, "mode": "zeros", "cout": 3},
    {"kind": "avg", "k": 3, "s": 2, "p": 1, "mode": "zeros", "cout": 3, "d": 1},
    {"kind": "adaptive_avg", "k": 3, "H": 7, "W": 5, "mode": "zeros", "cout": 3},
    {"kind": "adaptive_max", "k": 2, "H": 5, "W": 5, "mode": "zeros", "cout": 3},
]


def _chromium():
    pytest.importorskip("playwright.sync_api")
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def browser():
    path = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture
def page(browser, tmp_path):
    """The opening page, with console errors and network requests recorded."""
    path = tmp_path / "page.html"
    path.write_text(layer_page(OPENING, "1x3x5x5"), encoding="utf-8")
    tab = browser.new_page()
    tab.errors, tab.requests = [], []
    tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))
    tab.on("request", lambda r: tab.requests.append(r.url))
    tab.goto(path.as_uri())
    yield tab
    assert tab.errors == [] and all(u.startswith("file:") for u in tab.requests)
    tab.close()


def _convlab_outputs(snapshot):
    """The layer the page names, with the page's weights, on the page's input."""
    layer = parse_layer(snapshot["text"]).build()
    c = snapshot["config"]
    if snapshot["w"] is not None:
        layer.weight = convlab.nn.Parameter(convlab.tensor(
            np.array(snapshot["w"], np.float32).reshape(tuple(layer.weight.shape))))
        layer.bias = convlab.nn.Parameter(convlab.tensor(np.array(snapshot["b"], np.float32)))
    x = np.array(snapshot["x"], np.float32).reshape(1, c["cin"], c["H"], c["W"])
    return layer(convlab.tensor(x)).detach().numpy()


def test_opens_with_the_numbers_of_explain_trace(page):
    snap = page.evaluate("window.convlabPage.snapshot()")
    module, x = example(OPENING, (1, 3, 5, 5))
    y = module(convlab.tensor(x)).detach().numpy()
    np.testing.assert_array_equal(np.array(snap["x"]), x.ravel())
    np.testing.assert_allclose(np.array(snap["outputs"]), y.ravel(), atol=1e-5)
    page.hover("#output .cell >> nth=6")  # output (1, 1)
    text = page.inner_text("#trace")
    assert text.splitlines()[-1].endswith(f"= {int(trace(module, x, (0, 0, 1, 1)).total)}")
    assert "input channel 2:" in text and "bias" in text
    assert "floor((5 + 2*1 - 1*(3-1) - 1) / 1) + 1 = 5" in page.inner_text("#formula")
    assert f"torch.nn.{OPENING}" in page.inner_text("#code")
    assert "--seed 0 --trace 0,0,1,1" in page.inner_text("#code")  # the output shown


@pytest.mark.parametrize("changes", CONFIGS)
def test_every_number_equals_convlabs_layer(page, changes):
    page.evaluate(f"window.convlabPage.set({changes!r})".replace("True", "true"))
    assert page.evaluate("window.convlabPage.error()") == ""
    snap = page.evaluate("window.convlabPage.snapshot()")
    c = snap["config"]  # the page's numbers are convlab's example for the layer and seed
    module, x = example(snap["text"], (1, c["cin"], c["H"], c["W"]), c["seed"])
    np.testing.assert_array_equal(np.array(snap["x"]), x.ravel())
    if snap["w"] is not None:
        np.testing.assert_array_equal(np.array(snap["w"]), module.weight.detach().numpy().ravel())
        np.testing.assert_array_equal(np.array(snap["b"]), module.bias.detach().numpy().ravel())
    y = _convlab_outputs(snap)
    assert list(y.shape) == snap["shape"]
    np.testing.assert_allclose(np.array(snap["outputs"]), y.ravel(), rtol=1e-6, atol=1e-5)
    shown = [float(v) for v in page.eval_on_selector_all(
        "#output .cell", "cells => cells.map(c => c.dataset.value)")]
    per = len(shown)
    np.testing.assert_allclose(shown, y[0, 0].ravel()[:per], atol=1e-5)


def test_the_input_cells_hold_the_padding_modes_values(page):
    snap = page.evaluate("window.convlabPage.snapshot()")
    x = np.array(snap["x"], np.float32).reshape(3, 5, 5)
    cells = page.eval_on_selector_all('#inputs .grid[data-channel="1"] .cell',
                                      "cells => cells.map(c => c.firstChild.textContent)")
    padded = np.pad(x[1], 1, mode="reflect")  # the opening layer: padding=1, 'reflect'
    assert [float(v) for v in cells] == padded.ravel().tolist()


def test_controls_change_the_picture(page):
    before = page.locator("#output .cell").count()
    page.fill("#s", "2")
    page.dispatch_event("#s", "change")
    assert page.locator("#output .cell").count() < before
    assert "/ 2) + 1 = 3" in page.inner_text("#formula")
    page.select_option("#kind", "max")
    assert "MaxPool2d(3, stride=2, padding=1)" in page.inner_text("#layer-text")
    page.fill("#groups", "2")
    page.select_option("#kind", "conv")
    assert "in_channels must be divisible by groups" in page.inner_text("#error")
    page.click("#step")  # no model: nothing to step, and no error


def test_model_page(browser, tmp_path, capsys):
    out = tmp_path / "model.html"
    assert main(["explore", "lenet5", "--input", "1x1x28x28", "--image",
                 str(convlab.vision.sample_photo()), "--out", str(out)]) == 0
    tab = browser.new_page()
    errors = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto(out.as_uri())
    assert tab.locator("img.maps").count() == 2 and "receptive field 14" in tab.inner_text("body")
    assert "all" in tab.inner_text("table") and errors == []
    tab.close()


def test_the_command_writes_and_serves_a_self_contained_page(tmp_path, capsys):
    out = tmp_path / "p.html"
    assert main(["explore", "MaxPool2d(2)", "--input", "1x2x6x6", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "<script src" not in text and "http://" not in text and "https://" not in text
    command = "import sys; from convlab.cli import main; sys.exit(main(sys.argv[1:]))"
    server = subprocess.Popen([sys.executable, "-c", command, "explore", "Conv2d(1, 1, 3)",
                               "--input", "5x5", "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert line.startswith("serving on http://127.0.0.1:")
        url = line.split()[2]
        with urllib.request.urlopen(url, timeout=10) as response:
            assert b"convlab explore" in response.read()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_what_the_page_cannot_show_is_refused(capsys):
    with pytest.raises(ValueError, match="2-D convolution and pooling"):
        page_config("Conv1d(1, 1, 3)", "1x1x5")
    with pytest.raises(ValueError, match="same stride on both axes"):
        page_config("Conv2d(1, 1, 3, stride=(1, 2))", "5x5")
    with pytest.raises(ValueError, match="at most 12 for H"):
        page_config("Conv2d(1, 1, 3)", "64x64")
    assert main(["explore", "Conv2d(1, 1, 9)", "--input", "5x5", "--out", "x.html"]) == 2
    assert "does not fit" in capsys.readouterr().err
