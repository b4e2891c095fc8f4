"""How every ``convlab`` command meets a user's mistake: one line on stderr, exit code 2, no
traceback."""

from __future__ import annotations

import functools
import sys

__all__ = ["user_errors"]

# ImportError: an optional extra not installed (convlab.onnx names what to install)
_USER_ERRORS = (ValueError, TypeError, IndexError, KeyError, FileNotFoundError, OSError,
                RuntimeError, MemoryError, ImportError)


def user_errors(command: str):
    """Decorator: turn the errors a user can cause into one line on stderr and exit code 2."""
    def wrap(func):
        @functools.wraps(func)
        def run(args) -> int:
            try:
                return int(func(args) or 0)
            except _USER_ERRORS as error:
                message = error.args[0] if isinstance(error, KeyError) and error.args else error
                if isinstance(error, MemoryError):
                    message = "out of memory: try a smaller --input"
                print(f"convlab {command}: error: {message}", file=sys.stderr)
                return 2
        return run
    return wrap
