"""The ``convlab`` command: train, evaluate and predict; shape, summary, explain, gallery and
explore; filter and features. The wiring of each group lives in this package (``training``,
``explain``, ``vision``, and ``errors`` for what they share), above the code it drives: the
library's packages never import their commands.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__


def build_parser() -> argparse.ArgumentParser:
    from .explain import add_parsers as explain_parsers
    from .training import add_parsers as training_parsers
    from .vision import add_parsers as vision_parsers

    parser = argparse.ArgumentParser(
        prog="convlab", description="Convolution from scratch: train CNNs and see what a "
                                    "convolution does.")
    parser.add_argument("--version", action="version", version=f"convlab {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    training_parsers(subparsers)
    explain_parsers(subparsers)
    vision_parsers(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand; user errors print one line to stderr and exit 2, no traceback.

    Ctrl-C exits 130 (the command has said what was saved); running out of memory, as a
    too-large input can make one do, is a user error too.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except MemoryError as error:
        print(f"convlab {args.command}: out of memory{': ' + str(error) if str(error) else ''}"
              " (is an input larger than intended?)", file=sys.stderr)
        return 2
    except (ValueError, TypeError, RuntimeError, OSError) as error:
        print(f"convlab {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
