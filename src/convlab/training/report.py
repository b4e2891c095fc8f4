"""What ``convlab train`` prints: a progress bar per epoch, a line per epoch, the final table."""

from __future__ import annotations

import contextlib

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


class Reporter:
    """Prints to the terminal with rich; ``quiet=True`` prints only the essentials."""

    def __init__(self, console: Console | None = None, quiet: bool = False):
        self.console = console or Console()
        self.quiet = quiet

    def start(self, config, model, n_train: int, n_test: int) -> None:
        n_params = sum(p.numel() for p in model.parameters())
        self.console.print(
            f"[bold]convlab train[/bold]: {config.model} on {config.data} "
            f"({n_train} train / {n_test} test images), {n_params:,} parameters, "
            f"{config.optimizer} lr={config.lr} ({config.schedule}), batch {config.batch_size}, "
            f"{config.epochs} epochs, seed {config.seed} -> {config.out}")

    def resumed(self, path: str, epoch: int) -> None:
        self.console.print(f"resuming from {path} after epoch {epoch}")

    @contextlib.contextmanager
    def epoch_progress(self, epoch: int, epochs: int, steps: int):
        """Yield ``advance(running_loss, running_accuracy)``, called once per step."""
        if self.quiet:
            yield lambda loss, accuracy: None
            return
        columns = (TextColumn(f"epoch {epoch}/{epochs}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("loss {task.fields[loss]:.4f}  acc {task.fields[acc]:.2%}"),
                   TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=True) as progress:
            task = progress.add_task("train", total=steps, loss=float("nan"), acc=0.0)

            def advance(loss: float, accuracy: float) -> None:
                progress.update(task, advance=1, loss=loss, acc=accuracy)

            yield advance

    def epoch_done(self, row: dict) -> None:
        self.console.print(
            f"epoch {row['epoch']:2d}  train loss {row['train_loss']:.4f} acc "
            f"{row['train_accuracy']:6.2%}  test loss {row['test_loss']:.4f} acc "
            f"{row['test_accuracy']:6.2%}  {row['images_per_second']:,.0f} img/s", soft_wrap=True)

    def interrupted(self, path: str, epoch: int) -> None:
        self.console.print(
            f"\n[yellow]interrupted[/yellow]: the checkpoint after epoch {epoch} is in {path}; "
            "continue with --resume")

    def finish(self, final: dict, classes) -> None:
        self.console.print(f"[bold]test accuracy {final['accuracy']:.2%}[/bold] "
                           f"(loss {final['loss']:.4f})")
        self.console.print(confusion_table(final["confusion"], classes))

    def figures(self, paths) -> None:
        for path in paths:
            self.console.print(f"wrote {path}")


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
