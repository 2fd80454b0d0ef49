"""Training data: VIPSeg and YouTube-VIS / OVIS datasets, sampling, augmentation, synthetic data.

- `VipsegClips`, `YtvisClips`: torch Datasets of clips (stage 1) or videos of K clips (stage 2),
  returning `Sample(frames (L, 3, H, W) uint8, Target)`; `collate` makes a `Batch`.
- `Target`: per-tube labels (M,), masks (M, L, h, w) at stride 4, ids, semantic map, valid map.
- `AugmentConfig`: clip-consistent random resize, colour jitter, crop and flip.
- `synth.generate`: the synthetic data set of `axialvs synth`.
"""

from .targets import VOID, Batch, Sample, Target, collate
from .transforms import AugmentConfig
from .vipseg import VipsegClips
from .ytvis import YtvisClips

__all__ = [
    "VOID",
    "AugmentConfig",
    "Batch",
    "Sample",
    "Target",
    "VipsegClips",
    "YtvisClips",
    "collate",
]
