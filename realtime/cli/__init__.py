"""The ``stylize`` command line: one module per subcommand, each with ``register`` and ``run``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import import_module
from typing import NoReturn

from ..errors import StyleError

#: Subcommand name -> module (under ``framestyle.cli``) that defines ``register(parser)`` and ``run(args)``.
COMMANDS = {
    "video": "video",
    "image": "image",
    "webcam": "webcam",
    "styles": "styles",
    "bench": "bench",
    "train": "train",
    "add-style": "add_style",
    "evaluate-style": "evaluate_style",
    "flicker": "flicker",
    "serve": "serve",
    "live": "live",
}


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (argparse's own print the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand whose module is present."""
    parser = OneLineErrorParser(prog="stylize", description="Real-time style transfer for video, images, "
                                "cameras and game engines.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = import_module(f"{__name__}.{module_name}")
        except ModuleNotFoundError as error:
            if error.name == f"{__name__}.{module_name}":
                continue
            raise
        command = sub.add_parser(name, help=module.__doc__.splitlines()[0] if module.__doc__ else None,
                                 description=module.__doc__)
        module.register(command)
        command.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stylize`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except StyleError as error:
        print(f"stylize {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"stylize {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of the output went away (stylize styles | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 141


if __name__ == "__main__":
    sys.exit(main())
