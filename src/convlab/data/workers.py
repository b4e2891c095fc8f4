"""What runs inside a :class:`~convlab.data.DataLoader`'s worker process, and
:func:`get_worker_info`, which tells dataset code where it runs.

Each worker process, before its first batch:

1. runs convlab on one thread (``set_num_threads(1)``, as PyTorch's workers do): the workers
   already run side by side, and a forked child has no threads at all, only the memory of the
   parent's thread pool, whose threads would never pick up work;
2. seeds Python's ``random``, convlab's global generator and NumPy's global generator from
   ``seed = base_seed + worker id``, ``base_seed`` being one number the loader drew from its
   ``generator`` when the epoch's iterator was made: each worker draws different random numbers
   (the random crops of worker 0 and 1 differ), and the same ``generator`` seed gives the same
   numbers in every run. ``convlab.initial_seed()`` in a worker returns its ``seed``;
3. calls ``worker_init_fn(worker_id)``.

Then it answers tasks until told to stop: a task is ``(epoch, task number, indices)``; the answer
``(epoch, task number, kind, payload)`` holds the batch (kind ``"batch"``), the text of an
exception raised while making it (``"error"``), or, for an iterable dataset, that this worker's
copy of the stream has run out (``"end"``).
"""

from __future__ import annotations

import os
import pickle
import queue
import random
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import _random
from .._threads import set_num_threads
from . import transfer
from .fetch import Exhausted, make_fetcher

__all__ = ["WorkerInfo", "get_worker_info", "WorkerSpec", "worker_loop"]

# How often (seconds) an idle worker checks that the process that started it is still there.
WATCH_INTERVAL = 1.0


class WorkerInfo:
    """Where dataset code runs: ``id`` (0 to ``num_workers - 1``), ``num_workers``, ``seed``
    (this worker's, see the module's docstring) and ``dataset`` (this worker's copy)."""

    __slots__ = ("id", "num_workers", "seed", "dataset")

    def __init__(self, id: int, num_workers: int, seed: int, dataset):
        for name, value in (("id", id), ("num_workers", num_workers), ("seed", seed),
                            ("dataset", dataset)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The :class:`WorkerInfo` of the worker process this runs in; ``None`` in the main process.

    An :class:`~convlab.data.IterableDataset` uses it in ``__iter__`` to hand each worker its
    own share of the stream; a ``worker_init_fn`` to configure the worker's dataset copy.
    """
    return _worker_info


@dataclass
class WorkerSpec:
    """Everything a worker needs, handed to it once when it starts (pickled when the start
    method is spawn or forkserver, inherited with fork)."""
    dataset: object
    auto_collation: bool
    batch_size: int | None
    drop_last: bool
    collate_fn: Callable
    worker_init_fn: Callable | None
    worker_id: int
    num_workers: int
    base_seed: int
    parent_pid: int


def worker_loop(spec: WorkerSpec, sock: socket.socket) -> None:
    """The body of worker process ``spec.worker_id``: answer tasks read from ``sock``."""
    global _worker_info
    try:
        set_num_threads(1)
        seed = spec.base_seed + spec.worker_id
        random.seed(seed)
        _random.manual_seed(seed)
        np.random.seed(np.random.SeedSequence([spec.base_seed, spec.worker_id]).generate_state(4))
        _worker_info = WorkerInfo(spec.worker_id, spec.num_workers, seed, spec.dataset)
        init_error = None
        if spec.worker_init_fn is not None:
            try:
                spec.worker_init_fn(spec.worker_id)
            except Exception:
                init_error = _error(spec.worker_id)
        _serve(spec, sock, init_error)
    except KeyboardInterrupt:
        pass  # Ctrl-C reaches the whole process group: the main process handles it
    except (BrokenPipeError, ConnectionResetError):
        pass  # the main process is gone or has stopped listening


def _serve(spec: WorkerSpec, sock: socket.socket, init_error) -> None:
    tasks, stop = _read_tasks(sock)
    epoch, fetch, exhausted = None, None, False
    while not stop.is_set():
        try:
            task = tasks.get(timeout=WATCH_INTERVAL)
        except queue.Empty:
            if os.getppid() != spec.parent_pid:  # the main process died without telling us
                return
            continue
        if task is None:
            return
        task_epoch, task_id, indices = task
        if init_error is not None:
            transfer.send(sock, (task_epoch, task_id, "error", init_error))
            continue
        if task_epoch != epoch:  # a new epoch (persistent workers): start the stream again
            epoch, exhausted = task_epoch, False
            fetch = make_fetcher(spec.dataset, spec.auto_collation, spec.batch_size,
                                 spec.drop_last, spec.collate_fn)
        if exhausted:
            continue  # the loader skips the tasks of a worker whose stream ran out
        try:
            answer = (epoch, task_id, "batch", fetch(indices))
        except Exhausted:
            exhausted = True
            answer = (epoch, task_id, "end", None)
        except Exception:
            answer = (epoch, task_id, "error", _error(spec.worker_id))
        try:
            transfer.send(sock, answer)
        except (pickle.PicklingError, TypeError, AttributeError) as e:
            message = f"the batch could not be sent to the main process: {e}"
            transfer.send(sock, (epoch, task_id, "error",
                                 (RuntimeError, f"{message}\n", _where(spec.worker_id))))
        del answer  # let the batch's memory go while waiting for the next task


def _read_tasks(sock: socket.socket) -> tuple[queue.Queue, threading.Event]:
    """A thread that reads tasks from ``sock`` as they come, so that the main process never
    blocks handing out a task while this worker blocks handing back a large batch. ``None`` in
    the queue, and the event, say stop (the loader said so, or closed the socket)."""
    tasks: queue.Queue = queue.Queue()
    stop = threading.Event()

    def read():
        try:
            while True:
                task = transfer.receive(sock)
                if task is None:
                    break
                tasks.put(task)
        except (EOFError, OSError):
            pass
        stop.set()
        tasks.put(None)

    threading.Thread(target=read, name="convlab-dataloader-tasks", daemon=True).start()
    return tasks, stop


def _where(worker_id: int) -> str:
    return f"in DataLoader worker process {worker_id}"


def _error(worker_id: int) -> tuple:
    """The exception being handled, as ``(type, traceback text, where)``. The type goes by name
    (pickle sends classes by reference); one the main process could not import, e.g. defined
    inside a function, is replaced by ``RuntimeError``, the text keeps its name."""
    exc_type = sys.exc_info()[0]
    try:
        pickle.loads(pickle.dumps(exc_type))
    except Exception:
        exc_type = RuntimeError
    return exc_type, traceback.format_exc(), _where(worker_id)
