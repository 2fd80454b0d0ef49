"""The Axial-VS network, in pure PyTorch.

Axis names used in shape comments throughout the package:

    B batch, T frames of a clip, K clips of a video, N object queries, C (or D) channels,
    H, W feature height and width, P positions along one axis, L levels, M heads.

Imports inside this package are relative only: the package is installed under the generic
top-level name `models`, and `__axialvs__` lets the application check that it found this one.
"""

__axialvs__ = True

from .errors import AxialVSError, CheckpointError, ConfigError  # noqa: E402

__all__ = ["AxialVSError", "CheckpointError", "ConfigError"]
