"""Exceptions raised by kdbook, each carrying a message meant for a reader, not a traceback."""

from __future__ import annotations


class KDBookError(Exception):
    """Base class of every error kdbook raises on purpose."""


class ConfigError(KDBookError, ValueError):
    """One or more parameters are invalid; the message has one line per problem."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class DatasetUnavailable(KDBookError, FileNotFoundError):
    """A dataset's files are absent (and could not be downloaded) or are damaged."""


class TrainingDiverged(KDBookError, FloatingPointError):
    """The loss became NaN or infinite."""
