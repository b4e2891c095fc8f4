"""A small VGG-style net: conv-BN-ReLU blocks, Dropout, AdaptiveAvgPool2d, Adam + StepLR,
switching between train() and eval()."""

import numpy as np
import pytest

import convlab
from same_numbers import assert_same, assert_same_state, copy_weights

torch = pytest.importorskip("torch")


def build(torch, p=0.0):
    nn = torch.nn

    def block(c_in, c_out):
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )

    class SmallVGG(nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            self.features = nn.Sequential(block(3, 8), block(8, 16))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.classifier = nn.Sequential(
                nn.Dropout(p=p),
                nn.Linear(16, 32, bias=False),  # a bias before BN gets a zero gradient
                nn.BatchNorm1d(32),
                nn.ReLU(True),
                nn.Dropout(p=p),
                nn.Linear(32, num_classes),
            )

        def forward(self, x):
            x = self.features(x)
            x = self.avgpool(x)
            x = x.view(x.size(0), -1)
            return self.classifier(x)

    return SmallVGG()


def fit(torch, model, images, labels, epochs=3):
    """Train with Adam + StepLR, evaluating after every epoch; returns the history."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    criterion = torch.nn.CrossEntropyLoss()
    history = []
    for epoch in range(epochs):
        model.train()
        for x, y in zip(images, labels):
            x, y = torch.tensor(x), torch.tensor(y)
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            history.append(loss.item())
        scheduler.step()
        history.append(scheduler.get_last_lr()[0])
        model.eval()
        with torch.no_grad():
            x = torch.tensor(images[0])
            history.append(criterion(model(x), torch.tensor(labels[0])).item())
    return history


@pytest.fixture
def data():
    rng = np.random.default_rng(1)
    images = rng.standard_normal((3, 6, 3, 16, 16)).astype(np.float32)
    return images, rng.integers(0, 10, (3, 6))


def test_vgg_with_batchnorm_trains_to_the_same_weights_and_running_stats(data):
    # In float64: over nine Adam steps a float32 run is chaotic here. A round-off difference of
    # 1e-7 in a weight can flip a max-pooling choice between two nearly equal values, the
    # gradients then differ by percents, and Adam's normalized steps carry that on; float64
    # keeps both libraries on the same path, to 1e-12.
    torch.manual_seed(0)
    theirs, ours = build(torch).double(), build(convlab).double()
    copy_weights(theirs, ours)
    assert repr(ours) == repr(theirs)
    images, labels = data[0].astype(np.float64), data[1]
    assert_same(fit(convlab, ours, images, labels), fit(torch, theirs, images, labels),
                "history", rtol=1e-10, atol=0)
    # weights, running_mean/var and num_batches_tracked
    assert_same_state(ours, theirs, rtol=1e-9, atol=1e-12)
    assert not ours.training and not ours.classifier[0].training


def test_vgg_first_epoch_in_float32(data):
    torch.manual_seed(0)
    theirs, ours = build(torch), build(convlab)
    copy_weights(theirs, ours)
    assert_same(fit(convlab, ours, *data, epochs=1), fit(torch, theirs, *data, epochs=1),
                "history")
    assert_same_state(ours, theirs)


def test_dropout_keeps_the_expected_value_in_training_and_is_identity_in_eval():
    x = convlab.ones(200, 500)
    drop = convlab.nn.Dropout(p=0.3)
    y = drop(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.01
    assert convlab.allclose(y[kept], convlab.tensor(1 / 0.7))  # survivors are scaled by 1/(1-p)
    assert abs(y.mean().item() - 1.0) < 0.02
    drop.eval()
    assert drop(x) is x or convlab.equal(drop(x), x)


def test_dropout_net_in_eval_mode_matches_torch(data):
    torch.manual_seed(0)
    theirs, ours = build(torch, p=0.5), build(convlab, p=0.5)
    copy_weights(theirs, ours)
    theirs.eval(), ours.eval()
    x = data[0][0]
    assert_same(ours(convlab.tensor(x)), theirs(torch.tensor(x)), "eval output")
