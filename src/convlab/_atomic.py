"""Write files so a crash never leaves a half-written one: write a temporary file beside the
target, flush it to disk, then rename it into place (``os.replace`` is atomic on one file system).
"""

from __future__ import annotations

import contextlib
import os
import secrets


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path to write; on success it replaces ``path``, on error it vanishes.

    The temporary file is ``.tmp-<name>-<random><extension>`` in the target's folder, made with
    mode 0666 less the umask, as ``open(path, 'w')`` would make the file itself (``tempfile``
    makes 0600, which would lock other users out of every checkpoint).

    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = pathlib.Path(tmp).write_text("done")
    >>> target.read_text()
    'done'
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    suffix = os.path.splitext(path)[1]  # keep the extension: some writers choose a format by it
    tmp = _new_file(os.path.join(directory, ".tmp-" + os.path.basename(path) + "-"), suffix)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _new_file(prefix: str, suffix: str) -> str:
    """Create an empty file named ``prefix + random + suffix`` that did not exist before."""
    while True:
        tmp = prefix + secrets.token_hex(4) + suffix
        try:  # O_EXCL: never take over a file that is there; the OS applies the umask to 0o666
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
