"""User-facing errors: each names the problem and the fix, so the CLI can print one paragraph and exit non-zero."""

from __future__ import annotations


class NatError(Exception):
    """Base class for errors caused by the user's input or environment, not by a bug.

    `fix` says what to do about it; the CLI prints both and exits with `exit_code`.
    """

    exit_code = 2

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem}\n  fix: {self.fix}" if self.fix else self.problem


class ConfigError(NatError):
    """A configuration key, value or type is wrong."""


class DataError(NatError):
    """A dataset is missing, empty, unreadable or fails its checksum."""


class InvalidSubnetError(NatError, ValueError):
    """A subnet configuration lies outside the search space of a supernet."""


class CheckpointError(NatError):
    """A checkpoint cannot be read or does not fit the model it is loaded into."""


class RunDirError(NatError):
    """A run directory is locked by another process or is inconsistent."""
