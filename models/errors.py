"""Typed errors raised by the network package; the CLI formats them in one place."""


class AxialVSError(Exception):
    """Base class of every error axialvs reports to a user. The message names the fix."""

    exit_code = 1


class ConfigError(AxialVSError, ValueError):
    """An invalid model configuration (unknown option, inconsistent sizes)."""


class CheckpointError(AxialVSError):
    """A checkpoint that cannot be read or does not match the model."""
