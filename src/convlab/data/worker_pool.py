"""The main process's side of ``DataLoader(num_workers > 0)``: start the worker processes, hand
out tasks, put the batches back in order, and stop the workers.

Tasks go out round-robin (task ``k`` of an epoch to worker ``k % num_workers``, skipping workers
whose iterable stream ran out), ``prefetch_factor`` of them per worker ahead of the batch the
loop asks for; each batch handed to the loop sends out one more task. Batches come back in any
order and are kept until their turn, so the loop sees exactly the order of ``num_workers=0``
(unless ``in_order=False``: then each batch as soon as it arrives).

Each worker has its own socket pair (:mod:`.transfer`); ``multiprocessing.connection.wait``
watches all sockets and all process sentinels at once, so a batch, a worker's death and the
``timeout`` all wake the main process up, and no lock is shared with the workers (a worker can
be terminated at any moment without leaving one held).

With the fork start method (Python's default on Linux up to 3.13, and PyTorch's) a worker
starts as a copy of the main process: the dataset is not pickled, and numba's compiled kernels
are there, ready. Only the calling thread is copied. That is safe here because workers are
started from the loop's thread between two calls into the engine, when none of convlab's
threads holds a lock, and because the workers never use the copied thread pool
(:mod:`.workers` sets one thread); what other threads of a program do at that moment is the
program's affair, as with PyTorch.

The workers stop, and are joined, when the epoch ends (unless ``persistent_workers``), when the
iterator is garbage collected (the loop was left with ``break``), and at once on Ctrl-C, a
timeout or a worker's death. They are daemon processes, which multiprocessing also ends when
the main process exits; and each checks that its parent is still there, should the main process
be killed.
"""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import time

from . import transfer
from .workers import WorkerSpec, worker_loop

__all__ = ["WorkerPoolIterator"]

# How long (seconds) workers get to finish their task and exit before they are terminated.
JOIN_GRACE = 5.0


class WorkerPoolIterator:
    """Batches of ``loader``, made by ``loader.num_workers`` worker processes. One object per
    iterator; with ``persistent_workers`` the loader keeps it and calls :meth:`start_epoch` at
    each new ``iter(loader)``."""

    def __init__(self, loader, base_seed: int):
        self._owner = os.getpid()  # a forked child must never stop its siblings
        self._closed = False
        self._index_sampler = loader._index_sampler
        self._prefetch = loader.prefetch_factor * loader.num_workers
        self._timeout = loader.timeout
        self._in_order = loader.in_order
        self._persistent = loader.persistent_workers
        self._epoch = 0
        self._procs: list = []
        self._socks: list[socket.socket] = []
        context = loader.multiprocessing_context or multiprocessing.get_context()
        try:
            for worker_id in range(loader.num_workers):
                mine, theirs = socket.socketpair()
                self._socks.append(mine)
                spec = WorkerSpec(loader.dataset, loader._auto_collation, loader.batch_size,
                                  loader.drop_last, loader.collate_fn, loader.worker_init_fn,
                                  worker_id, loader.num_workers, base_seed, self._owner)
                proc = context.Process(target=worker_loop, args=(spec, theirs), daemon=True,
                                       name=f"convlab-dataloader-{worker_id}")
                try:
                    proc.start()
                finally:
                    theirs.close()  # the worker's end lives in the worker only
                self._procs.append(proc)
            self.start_epoch()
        except BaseException:
            self._shutdown(grace=0)
            raise

    def start_epoch(self) -> None:
        """Begin a new pass: a fresh pass of the sampler, and the first tasks sent out. Answers
        to the tasks of an earlier, unfinished epoch are recognized by their epoch and dropped."""
        self._epoch += 1
        self._sampler_iter = (iter(self._index_sampler) if self._index_sampler is not None
                              else itertools.repeat(None))  # an iterable dataset: "the next batch"
        self._sampler_done = False
        self._next_task = 0
        self._next_worker = 0
        self._active = [True] * len(self._procs)  # False once a worker's stream ran out
        self._pending: dict[int, int] = {}  # task number -> worker, sent and not yet handed out
        self._ready: dict[int, tuple] = {}  # task number -> (kind, payload), arrived
        for _ in range(self._prefetch):
            self._send_task()

    @property
    def alive(self) -> bool:
        return not self._closed

    def __iter__(self):
        return self

    def __next__(self):
        if self._closed:
            raise StopIteration
        try:
            kind, payload = self._next_answer()
        except StopIteration:
            raise
        except BaseException:  # Ctrl-C, a timeout, a dead worker: stop the workers now
            self._shutdown(grace=0)
            raise
        if kind == "error":
            _reraise(*payload)
        return payload

    def __del__(self):
        try:
            self._shutdown(grace=JOIN_GRACE)
        except Exception:
            pass  # at interpreter exit, multiprocessing's own exit handler ends daemon workers

    def _next_answer(self) -> tuple:
        """The next ``(kind, payload)`` to hand out ("batch" or "error"), in task order."""
        while True:
            task = self._deliverable()
            if task is not None:
                del self._pending[task]
                answer = self._ready.pop(task)
                self._send_task()
                return answer
            if not self._pending:  # every task answered or skipped: the epoch is over
                if not self._persistent:
                    self._shutdown(grace=JOIN_GRACE)
                raise StopIteration
            self._receive()

    def _deliverable(self) -> int | None:
        if not self._pending:
            return None
        if self._in_order:
            first = min(self._pending)
            return first if first in self._ready else None
        return next(iter(self._ready), None)

    def _send_task(self) -> None:
        """Send the sampler's next indices to the next worker that still has data."""
        if self._sampler_done or not any(self._active):
            return
        try:
            indices = next(self._sampler_iter)
        except StopIteration:
            self._sampler_done = True
            return
        while not self._active[self._next_worker]:
            self._next_worker = (self._next_worker + 1) % len(self._procs)
        worker = self._next_worker
        self._next_worker = (worker + 1) % len(self._procs)
        transfer.send(self._socks[worker], (self._epoch, self._next_task, indices))
        self._pending[self._next_task] = worker
        self._next_task += 1

    def _receive(self) -> None:
        """Wait for the workers (at most ``timeout`` seconds, when it is set) and take in what
        one of them sent."""
        by_sentinel = {proc.sentinel: i for i, proc in enumerate(self._procs)}
        ready = multiprocessing.connection.wait([*self._socks, *by_sentinel],
                                                self._timeout or None)
        if not ready:
            raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
        for obj in ready:
            if isinstance(obj, socket.socket):
                worker = self._socks.index(obj)
                try:
                    message = transfer.receive(obj)
                except (EOFError, ConnectionError):
                    raise self._died(worker) from None
                self._take(worker, *message)
                return
        # Only sentinels are ready: a worker ended without a word on its socket.
        raise self._died(by_sentinel[ready[0]])

    def _take(self, worker: int, epoch: int, task: int, kind: str, payload) -> None:
        if epoch != self._epoch:
            return  # the answer to a task of an epoch left unfinished
        if kind == "end":  # this worker's copy of the stream ran out
            self._active[worker] = False
            del self._pending[task]
            # It answered its earlier tasks already (one socket, in order); its later tasks
            # will never be answered.
            for later in [t for t, w in self._pending.items() if w == worker and t > task]:
                del self._pending[later]
            return
        self._ready[task] = (kind, payload)

    def _died(self, worker: int) -> RuntimeError:
        proc = self._procs[worker]
        proc.join(1.0)
        code = proc.exitcode
        how = (f"killed by signal {signal.Signals(-code).name}" if code is not None and code < 0
               else f"exit code {code}")
        return RuntimeError(f"DataLoader worker {worker} (pid {proc.pid}) exited unexpectedly "
                            f"({how})")

    def _shutdown(self, grace: float) -> None:
        """Tell the workers to stop, give them ``grace`` seconds to finish the task in hand
        (reading, and dropping, what they still send), then terminate the rest and reap all."""
        if self._closed or os.getpid() != self._owner:
            return
        self._closed = True
        for sock in self._socks:
            try:
                transfer.send(sock, None)
            except OSError:
                pass  # that worker is gone already
        deadline = time.monotonic() + grace
        listening = {s: p for s, p in zip(self._socks, self._procs)}
        while grace and any(p.is_alive() for p in self._procs) and time.monotonic() < deadline:
            waiting = [*listening, *(p.sentinel for p in self._procs if p.is_alive())]
            for obj in multiprocessing.connection.wait(waiting, deadline - time.monotonic()):
                if isinstance(obj, socket.socket) and not _drain(obj):
                    del listening[obj]
        for proc in self._procs:
            if proc.is_alive():
                proc.terminate()
            proc.join()
        for sock in self._socks:
            sock.close()


def _drain(sock: socket.socket) -> bool:
    """Read and drop what is waiting on ``sock``; False once the other end has closed."""
    try:
        return bool(sock.recv(1 << 20, socket.MSG_DONTWAIT))
    except BlockingIOError:
        return True
    except OSError:
        return False


class _KeyErrorText(KeyError):
    """A KeyError that prints its message as text (a plain KeyError prints the repr of its
    argument, which would show the worker's traceback as one line full of ``\\n``)."""

    def __str__(self) -> str:
        return self.args[0]


def _reraise(exc_type: type, text: str, where: str):
    """Raise, in the main process, the exception a worker caught: the same type where it can
    be made from a message, else ``RuntimeError``; the message holds the worker's traceback."""
    message = f"Caught {exc_type.__name__} {where}.\nOriginal {text}"
    if exc_type is KeyError:
        raise _KeyErrorText(message)
    try:
        error = exc_type(message)
    except Exception:
        raise RuntimeError(message) from None
    try:
        raise error
    finally:
        del error  # the traceback holds this frame: no cycle keeping the iterator alive
