"""Mirrors pytorch/examples, imagenet/main.py (commit 493da9304e56ff5160f78d01a54992db35df2a98):
the ImageNet training script's loop, seeded (``cudnn.deterministic = True``). An AlexNet-style
model whose ``features`` are wrapped in
``torch.nn.DataParallel`` (the script's branch for alexnet and vgg), CrossEntropyLoss, SGD with
momentum and weight decay, ``StepLR(step_size=30, gamma=0.1)``, the ``AverageMeter`` and
``ProgressMeter`` bookkeeping, ``accuracy(output, target, topk=(1, 5))`` built from ``topk``,
``t()``, ``eq``, ``expand_as`` and ``mul_``, and ``save_checkpoint`` of a dict with the epoch,
state_dicts of model, optimizer and scheduler, then loaded back to resume.

Cut to a small AlexNet-like model on 16 synthetic 32x32 images, batches of 8.
"""

import os
import sys
import tempfile

from harness import check, labelled_images


class AverageMeter:
    """Computes and stores the average and current value."""

    def __init__(self, name, fmt=":f"):
        self.name, self.fmt = name, fmt
        self.reset()

    def reset(self):
        self.val = self.avg = self.sum = self.count = 0

    def update(self, val, n=1):
        self.val = val
        self.sum += val * n
        self.count += n
        self.avg = self.sum / self.count

    def __str__(self):
        fmtstr = "{name} {val" + self.fmt + "} ({avg" + self.fmt + "})"
        return fmtstr.format(**self.__dict__)


class ProgressMeter:
    def __init__(self, num_batches, meters, prefix=""):
        self.batch_fmtstr = "[{:" + str(len(str(num_batches))) + "d}/" + str(num_batches) + "]"
        self.meters, self.prefix = meters, prefix

    def display(self, batch):
        entries = [self.prefix + self.batch_fmtstr.format(batch)]
        return "\t".join(entries + [str(meter) for meter in self.meters])


def accuracy(torch, output, target, topk=(1,)):
    with torch.no_grad():
        maxk = max(topk)
        batch_size = target.size(0)
        _, pred = output.topk(maxk, 1, True, True)
        pred = pred.t()
        correct = pred.eq(target.view(1, -1).expand_as(pred))
        res = []
        for k in topk:
            correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
            res.append(correct_k.mul_(100.0 / batch_size))
        return res


def make_data(rng):
    images, labels = labelled_images(rng, 16, 3, 32)
    return {"images": images, "labels": labels}


def build(torch):
    nn = torch.nn

    class AlexNet(nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 16, kernel_size=5, stride=2, padding=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2))
            self.avgpool = nn.AdaptiveAvgPool2d((3, 3))
            self.classifier = nn.Sequential(nn.Linear(32 * 3 * 3, 64), nn.ReLU(inplace=True),
                                            nn.Linear(64, num_classes))

        def forward(self, x):
            x = self.features(x)
            x = self.avgpool(x)
            x = torch.flatten(x, 1)
            return self.classifier(x)

    model = AlexNet()
    model.features = torch.nn.DataParallel(model.features)
    return model


def loader(torch, data):
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(data["images"]),
                                             torch.from_numpy(data["labels"]))
    return torch.utils.data.DataLoader(dataset, batch_size=8, shuffle=False, num_workers=0)


def loss_of(torch, model, data):
    images, target = next(iter(loader(torch, data)))
    output = model(images)
    return output, torch.nn.CrossEntropyLoss()(output, target)


def train_epoch(torch, train_loader, model, criterion, optimizer, epoch):
    losses, top1 = AverageMeter("Loss", ":.4e"), AverageMeter("Acc@1", ":6.2f")
    top5 = AverageMeter("Acc@5", ":6.2f")
    progress = ProgressMeter(len(train_loader), [losses, top1, top5],
                             prefix=f"Epoch: [{epoch}]")
    model.train()
    for i, (images, target) in enumerate(train_loader):
        output = model(images)
        loss = criterion(output, target)
        acc1, acc5 = accuracy(torch, output, target, topk=(1, 5))
        losses.update(loss.item(), images.size(0))
        top1.update(acc1[0], images.size(0))
        top5.update(acc5[0], images.size(0))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        assert progress.display(i + 1).startswith(f"Epoch: [{epoch}][")
    return losses.avg


def train(torch, model, data):
    was_deterministic = torch.backends.cudnn.deterministic
    torch.backends.cudnn.deterministic = True  # the script's --seed branch
    try:
        return train_epochs(torch, model, data)
    finally:  # the switch is global: leave it as the other tests expect it
        torch.backends.cudnn.deterministic = was_deterministic


def train_epochs(torch, model, data):
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), 0.05, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)
    losses = []
    with tempfile.TemporaryDirectory() as folder:
        filename = os.path.join(folder, "checkpoint.pth.tar")
        for epoch in range(0, 2):
            losses.append(train_epoch(torch, loader(torch, data), model, criterion, optimizer,
                                      epoch))
            scheduler.step()
            torch.save({"epoch": epoch + 1, "arch": "alexnet", "state_dict": model.state_dict(),
                        "best_acc1": 0.0, "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict()}, filename)
        checkpoint = torch.load(filename, weights_only=False)
        start_epoch = checkpoint["epoch"]
        model.load_state_dict(checkpoint["state_dict"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
    for epoch in range(start_epoch, 4):
        losses.append(train_epoch(torch, loader(torch, data), model, criterion, optimizer, epoch))
        scheduler.step()
    return losses


def test_program():
    check(sys.modules[__name__])
