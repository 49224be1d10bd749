"""The package's exceptions: one root, and kinds that also inherit the matching builtin."""

from __future__ import annotations


class StyleError(Exception):
    """Root of every error this package raises for a user's mistake or an environment problem.

    The CLI prints such an error as one line and exits non-zero; anything else is a bug and gets a traceback.
    """


class InputError(StyleError, ValueError):
    """An input file or stream is missing, unreadable, empty or not what it should be."""


class OutputError(StyleError, OSError):
    """An output cannot be written where it was asked for."""


class ModelError(StyleError, ValueError):
    """A style name is unknown, or a model file or its card is not usable."""


class ProviderError(StyleError, RuntimeError):
    """A requested ONNX Runtime execution provider is not available."""


class MissingExtraError(StyleError, ImportError):
    """A feature needs an optional dependency that is not installed."""


class ClusterError(StyleError, RuntimeError):
    """A cluster cannot be reached, or its nodes cannot do the work (files out of their reach, tasks that keep
    failing)."""
