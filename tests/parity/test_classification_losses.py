"""The loss options classification code uses, on the same logits in both libraries: class
weights, ignore_index, label smoothing, probability targets, reduction='none', NLLLoss after
log_softmax, BCELoss after sigmoid, L1Loss; values and gradients."""

import numpy as np
import pytest

import convlab
from same_numbers import assert_same

torch = pytest.importorskip("torch")

rng = np.random.default_rng(5)
LOGITS = rng.standard_normal((6, 4, 3)).astype(np.float32)  # (N, C, d): 4 classes, 3 positions
LABELS = rng.integers(0, 4, (6, 3))
LABELS[1, 2] = LABELS[4, 0] = -1  # padding positions, skipped with ignore_index=-1
PROBS = rng.dirichlet(np.ones(4), (6, 3)).transpose(0, 2, 1).astype(np.float32)  # (N, C, d)
WEIGHT = np.array([1.0, 2.0, 0.5, 1.5], np.float32)


def cross_entropy_losses(torch):
    nn, F = torch.nn, torch.nn.functional
    weight, labels = torch.from_numpy(WEIGHT), torch.from_numpy(LABELS)
    flat = labels[:, 0].clamp(min=0)  # (N,) class indices for (N, C) logits
    return {
        "weight+ignore_index": nn.CrossEntropyLoss(weight=weight, ignore_index=-1),
        "label_smoothing": nn.CrossEntropyLoss(ignore_index=-1, label_smoothing=0.1),
        "all three": nn.CrossEntropyLoss(weight=weight, ignore_index=-1, label_smoothing=0.2),
        "none": nn.CrossEntropyLoss(reduction="none", ignore_index=-1),
        "sum": nn.CrossEntropyLoss(reduction="sum", weight=weight, ignore_index=-1),
        "probabilities": lambda x, _: F.cross_entropy(x, torch.from_numpy(PROBS)),
        "probabilities+smoothing+weight": lambda x, _: F.cross_entropy(
            x, torch.from_numpy(PROBS), weight=weight, label_smoothing=0.3),
        "(N, C) logits": lambda x, _: F.cross_entropy(x[:, :, 0], flat),
        "nll after log_softmax": lambda x, y: nn.NLLLoss(weight=weight, ignore_index=-1)(
            F.log_softmax(x, dim=1), y),
        "nll none": lambda x, y: F.nll_loss(torch.log_softmax(x, 1), y, ignore_index=-1,
                                            reduction="none"),
        "bce after sigmoid": lambda x, _: nn.BCELoss()(torch.sigmoid(x),
                                                       torch.from_numpy(PROBS)),
        "bce weighted sum": lambda x, _: F.binary_cross_entropy(
            x.sigmoid(), torch.from_numpy(PROBS), weight=torch.from_numpy(WEIGHT)[:, None],
            reduction="sum"),
        "bce with logits pos_weight": lambda x, _: nn.BCEWithLogitsLoss(
            pos_weight=torch.from_numpy(WEIGHT)[:, None])(x, torch.from_numpy(PROBS)),
        "l1": lambda x, _: nn.L1Loss()(x, torch.from_numpy(PROBS)),
        "l1 none": lambda x, _: F.l1_loss(x, torch.from_numpy(PROBS), reduction="none"),
    }


@pytest.mark.parametrize("name", list(cross_entropy_losses(convlab)))
def test_loss_and_gradient_match_torch(name):
    values = {}
    for lib in (convlab, torch):
        x = lib.tensor(LOGITS, requires_grad=True)
        loss = cross_entropy_losses(lib)[name](x, lib.from_numpy(LABELS))
        loss.sum().backward()
        values[lib] = loss, x.grad
    assert_same(values[convlab][0], values[torch][0], "loss")
    assert_same(values[convlab][1], values[torch][1], "gradient")


def test_accuracy_and_loss_over_an_epoch_as_a_course_computes_them():
    def evaluate(torch):
        criterion = torch.nn.CrossEntropyLoss(reduction="sum")
        total_loss, correct, total = 0.0, 0, 0
        with torch.no_grad():
            for x, y in zip(LOGITS.transpose(2, 0, 1), LABELS.T.clip(0)):
                outputs, labels = torch.from_numpy(x.copy()), torch.from_numpy(y.copy())
                total_loss += criterion(outputs, labels).item()
                _, predicted = torch.max(outputs.data, 1)
                total += labels.size(0)
                correct += (predicted == labels).sum().item()
        return total_loss / total, 100 * correct / total

    (loss, accuracy), (torch_loss, torch_accuracy) = evaluate(convlab), evaluate(torch)
    assert accuracy == torch_accuracy and isinstance(accuracy, float)
    assert_same(loss, torch_loss)
