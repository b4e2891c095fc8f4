"""The pieces of the d2l library (d2l-ai/d2l-en, d2l/torch.py) that its CNN chapters call,
written here in our own words for the corpus: ``Classifier`` (loss, accuracy, layer summary),
``init_cnn`` and a ``Trainer.fit`` loop. Every function takes the library as ``torch``.
"""

from __future__ import annotations


def classifier_loss(torch, Y_hat, Y, averaged=True):
    """d2l's ``Classifier.loss``: cross-entropy of flattened predictions."""
    Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
    Y = Y.reshape((-1,))
    return torch.nn.functional.cross_entropy(Y_hat, Y, reduction="mean" if averaged else "none")


def accuracy(torch, Y_hat, Y, averaged=True):
    """d2l's ``Classifier.accuracy``, with NumPy's ``axis`` keyword as d2l writes it."""
    Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
    preds = Y_hat.argmax(axis=1).type(Y.dtype)
    compare = (preds == Y.reshape(-1)).type(torch.float32)
    return compare.mean() if averaged else compare


def init_cnn(torch):
    """d2l's ``init_cnn``: Xavier-uniform weights for every Linear and Conv2d."""
    nn = torch.nn

    def init(module):
        if type(module) == nn.Linear or type(module) == nn.Conv2d:  # noqa: E721 (d2l's test)
            nn.init.xavier_uniform_(module.weight)

    return init


def apply_init(torch, model, inputs, init=None):
    """d2l's ``Module.apply_init``: a first forward pass sizes the lazy layers, then ``init``."""
    model(*inputs)
    if init is not None:
        model.net.apply(init)


def layer_summary(torch, model, X):
    """d2l's ``layer_summary``: each layer's class name and output shape, in order."""
    lines = []
    for layer in model.net:
        X = layer(X)
        lines.append(f"{layer.__class__.__name__} output shape:\t{tuple(X.shape)}")
    return lines


def loader(torch, images, labels, batch_size, train=True, num_workers=0):
    """d2l's ``DataModule.get_tensorloader`` over in-memory arrays."""
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(images), torch.from_numpy(labels))
    return torch.utils.data.DataLoader(dataset, batch_size, shuffle=False,
                                       num_workers=num_workers)


def fit(torch, model, train_loader, lr, max_epochs):
    """d2l's ``Trainer.fit`` with ``Classifier.configure_optimizers`` (plain SGD): the loss of
    every training step. As d2l does, ``backward`` and ``step`` run under ``no_grad``."""
    optim = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for epoch in range(max_epochs):
        model.train()
        for *inputs, Y in train_loader:
            loss = classifier_loss(torch, model(*inputs), Y)
            optim.zero_grad()
            with torch.no_grad():
                loss.backward()
                optim.step()
            losses.append(loss.item())
    return losses


# The corpus's d2l programs share these three: the data is {"images", "labels"}, the first
# batch is the first 8 images, and training is d2l's Trainer.fit.

def materialize(torch, model, data):
    """A first pass over a batch sizes the lazy layers; then d2l's ``init_cnn``."""
    apply_init(torch, model, [torch.from_numpy(data["images"][:8])], init_cnn(torch))


def loss_of(torch, model, data):
    Y_hat = model(torch.from_numpy(data["images"][:8]))
    return Y_hat, classifier_loss(torch, Y_hat, torch.from_numpy(data["labels"][:8]))


def trainer(lr: float, max_epochs: int, batch_size: int = 8):
    """A program's ``train``: d2l's Trainer with SGD at ``lr``."""
    def train(torch, model, data):
        batches = loader(torch, data["images"], data["labels"], batch_size)
        return fit(torch, model, batches, lr=lr, max_epochs=max_epochs)

    return train
