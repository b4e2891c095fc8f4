"""What ``convlab train`` prints: a progress bar per epoch, a line per epoch, the final table."""

from __future__ import annotations

import contextlib

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn,
                           TextColumn)
from rich.table import Table
from rich.text import Text


def plural(n: int, word: str) -> str:
    """``1 epoch``, ``2 epochs``."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


class _Seconds(ProgressColumn):
    """Elapsed time in seconds with a tenth (an epoch of the digits takes about one second,
    which rich's h:mm:ss column shows as 0:00:00)."""

    def render(self, task) -> Text:
        return Text(f"{task.elapsed or 0.0:.1f}s")


class EpochBar:
    """An epoch's progress bar (a :class:`rich.progress.Progress` task); without one (quiet, or
    not a terminal) its methods do nothing."""

    def __init__(self, progress: Progress | None = None, task=None):
        self.progress, self.task = progress, task

    def step(self, loss: float, accuracy: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task, advance=1,
                                 running=f"loss {loss:.4f} acc {accuracy:.2%}")

    def compiling(self) -> None:
        """Shown until the next step: rich redraws the bar from its own thread meanwhile."""
        if self.progress is not None:
            self.progress.update(self.task, running="compiling kernels (first run only)")


class Reporter:
    """Prints to the terminal with rich; ``quiet=True`` prints only the essentials.

    Lines are kept under 80 columns. The progress bar is drawn only on a terminal: in a pipe or
    a file there is nothing to redraw, and the epoch lines say it all.
    """

    def __init__(self, console: Console | None = None, quiet: bool = False):
        self.console = console or Console()
        self.quiet = quiet
        self.epochs = 0
        self._headed = False  # the epoch lines' column header is printed before the first

    def start(self, config, model, n_train: int, n_validation: int, n_test: int) -> None:
        n_params = sum(p.numel() for p in model.parameters())
        self.epochs = config.epochs  # for the epoch lines' "epoch 3/25"
        smoothing = f", label smoothing {config.label_smoothing:g}" \
            if config.label_smoothing else ""
        for line in (
                f"[bold]convlab train[/bold]: {config.model} ({n_params:,} parameters) on "
                f"{config.data}",
                f"  images: {n_train:,} train, {n_validation:,} validation (chooses best.npz), "
                f"{n_test:,} test",
                f"  {config.optimizer} lr {config.lr:g} ({config.schedule}), batch "
                f"{config.batch_size}, {plural(config.epochs, 'epoch')}{smoothing}",
                f"  seed {config.seed}, run directory {config.out}"):
            self.console.print(line, soft_wrap=True)

    def resumed(self, path: str, epoch: int, epochs: int) -> None:
        self.console.print(f"resuming from {path} after epoch {epoch} of {epochs}",
                           soft_wrap=True)

    def finished_already(self, out: str, epochs: int) -> None:
        self.console.print(f"the run in {out} has finished all {plural(epochs, 'epoch')} "
                           "(see its metrics.json); to train it further, give more with "
                           "--epochs N", soft_wrap=True)

    def removed_leftovers(self, paths: list[str]) -> None:
        self.console.print(f"removed {plural(len(paths), 'unfinished temporary file')} "
                           "(.tmp-*) left by an interrupted write", soft_wrap=True)

    @contextlib.contextmanager
    def epoch_progress(self, epoch: int, epochs: int, steps: int):
        """Yield an :class:`EpochBar`: its ``step(running_loss, running_accuracy)`` is called
        once per step, its ``compiling()`` when numba starts compiling a kernel."""
        if self.quiet or not self.console.is_terminal:
            yield EpochBar()
            return
        columns = (TextColumn(f"epoch {epoch}/{epochs}"), BarColumn(bar_width=24),
                   MofNCompleteColumn(), TextColumn("{task.fields[running]}"), _Seconds())
        with Progress(*columns, console=self.console, transient=True) as progress:
            yield EpochBar(progress, progress.add_task("train", total=steps, running=""))

    def compiled(self, seconds: float) -> None:
        """The epoch compiled kernels for ``seconds`` (left out of its time): once per install."""
        if not self.quiet:
            self.console.print(f"  [dim](plus {seconds:.0f} s compiling kernels, once: numba "
                               "caches them on disk)[/dim]", soft_wrap=True)

    def _columns(self) -> str:
        """The epoch lines' format: one column each, so every line stays under 80 columns."""
        width = max(len("epoch"), 2 * len(str(self.epochs)) + 1)
        return f"{{:>{width}}}  {{:>10}}  {{:>9}}  {{:>8}}  {{:>7}}  {{:>7}}"

    def epoch_done(self, row: dict) -> None:
        if not self._headed:
            self.console.print(self._columns().format("epoch", "train loss", "train acc",
                                                      "val loss", "val acc", "img/s"))
            self._headed = True
        self.console.print(self._columns().format(
            f"{row['epoch']}/{self.epochs}", f"{row['train_loss']:.4f}",
            f"{row['train_accuracy']:.2%}", f"{row['validation_loss']:.4f}",
            f"{row['validation_accuracy']:.2%}", f"{row['images_per_second']:,.0f}"))

    def interrupted(self, out: str, epoch: int) -> None:
        if epoch == 0:
            self.console.print("\n[yellow]interrupted[/yellow] before the first epoch ended: "
                               "nothing was saved", soft_wrap=True)
            return
        self.console.print(
            f"\n[yellow]interrupted[/yellow]: the checkpoint after epoch {epoch} is in "
            f"{out}; continue with\n  convlab train --resume --out {out}", soft_wrap=True)

    def finish(self, final: dict, classes, what: str = "") -> None:
        self.console.print(f"[bold]test accuracy {final['accuracy']:.2%}[/bold] "
                           f"(loss {final['loss']:.4f}){' of ' + what if what else ''}",
                           soft_wrap=True)
        self.console.print(confusion_table(final["confusion"], classes))

    def figures(self, paths) -> None:
        for path in paths:
            self.console.print(f"wrote {path}", soft_wrap=True)


def confusion_table(confusion, classes) -> Table:
    """Rows are the true classes, columns the predicted ones; the diagonal is what was right."""
    table = Table(title="confusion matrix (rows: true, columns: predicted)")
    table.add_column("true \\ pred", style="bold")
    for name in classes:
        table.add_column(str(name)[:6], justify="right")
    for i, name in enumerate(classes):
        cells = [f"[green]{v}[/green]" if i == j else (str(v) if v else "[dim]0[/dim]")
                 for j, v in enumerate(confusion[i])]
        table.add_row(str(name), *cells)
    return table
