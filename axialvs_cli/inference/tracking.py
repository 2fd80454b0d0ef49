"""Video runners over the stateless network: near-online (clip by clip) and offline (two passes).

Near-online (paper section 3.2): the video is cut into non-overlapping clips of T frames; each
clip is segmented by `forward_clip`, and its N object queries are matched to the previous
clip's by the Hungarian algorithm on the cosine similarity of their mask embeddings
(`models.matching.match_queries`, as the official code does). After chained matching, query
slot i is the same tube in every clip. Only the previous clip's embeddings and the running sum
of class logits are kept, so memory does not grow with the video.

Offline (paper section 3.3, `axialvs refine`): pass 1 keeps every clip's queries and mask
embeddings (K x N x (D + E) numbers), aligns them by chained matching and runs the cross-clip
tracking module; pass 2 segments each clip again (the segmenter is re-run instead of keeping
pixel features) and decodes its masks with the refined per-clip mask kernels. The
cross-clip module's cost grows with the square of the number of clips, so videos longer than
`window` clips are refined in overlapping windows of `window` clips (half a window apart,
aligned once for the whole video): every clip takes the mask kernels of the window it is most
central in, and the per-video class logits are the mean of the windows' logits. Videos of at
most `window` clips are refined in one piece, exactly as the paper does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from models.axialvs import ClipOutput
from models.errors import ConfigError
from models.matching import align_clips, match_queries

__all__ = [
    "ClipPrediction",
    "NearOnlineRunner",
    "NearOnlineState",
    "OfflineRunner",
    "RefinedVideo",
    "SegmentIds",
    "run_segmenter",
]


def run_segmenter(model: nn.Module, clip: Tensor) -> ClipOutput:
    """One stateless network call: clip (1, T, 3, H, W), RGB 0..255 -> `ClipOutput`."""
    param = next(model.parameters(), None)
    if param is not None:
        clip = clip.to(param.device, non_blocking=True)
    with torch.inference_mode():
        return model.forward_clip(clip)


@dataclass
class ClipPrediction:
    """One clip's predictions with query slots aligned to the video's tracks.

    Attributes:
        class_logits: (N, C+1) logits to post-process this clip with (near-online: mean over
            the clips so far; offline: the refined per-video logits).
        mask_logits: (N, T, h, w) stride-4 mask logits, slot order.
        valid: the clip's real frames; frames valid..T-1 repeat the last one (padding).
    """

    class_logits: Tensor
    mask_logits: Tensor
    valid: int


@dataclass
class NearOnlineState:
    """What the near-online runner carries from clip to clip (constant size).

    Attributes:
        embeddings: (N, E) mask embeddings of the previous clip, in slot order.
        logit_sum: (N, C+1) sum of the aligned class logits of the clips so far.
        clips: clips seen.
    """

    embeddings: Tensor | None = None
    logit_sum: Tensor | None = None
    clips: int = 0

    @property
    def mean_logits(self) -> Tensor:
        """(N, C+1) class logits averaged per slot over the clips so far."""
        if self.logit_sum is None:
            raise ValueError("no clip has been segmented yet")
        return self.logit_sum / self.clips


class NearOnlineRunner:
    """Segments a video clip by clip, linking each clip's queries to the previous clip's."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.state = NearOnlineState()

    def step(self, clip: Tensor, valid: int) -> ClipPrediction:
        """Segment the next clip (1, T, 3, H, W) of which the first `valid` frames are real."""
        out = run_segmenter(self.model, clip)
        emb = out.match_embeddings[0]  # (N, F): what the official code matches on
        state = self.state
        if state.embeddings is None:
            perm = torch.arange(emb.shape[0], device=emb.device)
        else:
            perm = match_queries(state.embeddings, emb)
        logits = out.class_logits[0][perm].float()  # (N, C+1)
        state.embeddings = emb[perm]
        state.logit_sum = logits if state.logit_sum is None else state.logit_sum + logits
        state.clips += 1
        return ClipPrediction(state.mean_logits, out.mask_logits[0][perm], valid)


@dataclass
class RefinedVideo:
    """Result of the cross-clip tracking module for a whole video.

    Attributes:
        class_logits: (N, C+1) one class distribution per query slot for the video.
        kernels: (K, N, E) mask kernels per clip, slot order.
        permutations: (K, N) clip k's query `permutations[k][i]` is slot i.
    """

    class_logits: Tensor
    kernels: Tensor
    permutations: Tensor


def window_starts(clips: int, window: int) -> list[int]:
    """First clip of each refinement window: half a window apart, the last one flush with the
    end (a single window when `clips` <= `window`)."""
    if clips <= window:
        return [0]
    stride = max(1, window // 2)
    starts = list(range(0, clips - window, stride))
    return [*starts, clips - window]


def refine_in_windows(model: nn.Module, queries: Tensor, window: int) -> tuple[Tensor, Tensor]:
    """Cross-clip refinement of aligned queries (K, N, D) in windows of at most `window` clips.

    Returns:
        (class logits (N, C+1) averaged over the windows, kernels (K, N, E) from the window
        each clip is most central in).
    """
    k = queries.shape[0]
    starts = window_starts(k, window)
    best = [float("inf")] * k
    source = [0] * k  # which window each clip takes its kernels from
    for w, start in enumerate(starts):
        centre = start + (min(k, start + window) - 1 - start) / 2
        for clip in range(start, min(k, start + window)):
            if abs(clip - centre) < best[clip]:
                best[clip], source[clip] = abs(clip - centre), w
    parts, logits = [], []
    with torch.inference_mode():
        for w, start in enumerate(starts):
            out = model.refine(queries[None, start : start + window])
            logits.append(out.class_logits[0].float())
            mine = [c - start for c in range(start, min(k, start + window)) if source[c] == w]
            if mine:  # owned clips are consecutive
                parts.append(out.mask_kernels[0, mine[0] : mine[-1] + 1])
    return torch.stack(logits).mean(dim=0), torch.cat(parts)


# peak bytes of a cross-clip refinement ~ REFINE_BYTES x heads x (K N)^2 (measured with the tiny
# model on the CPU: 2.2-3.5 x 4 bytes for K = 50..150 clips of 32 queries)
REFINE_BYTES = 12


def refine_window_for(model: nn.Module, clips: int, queries: int, memory_gib: float) -> int:
    """Clips per refinement window: the whole video when its refinement fits `memory_gib`
    (0: no limit), else the most clips that fit (at least 2)."""
    if memory_gib <= 0:
        return clips
    heads = getattr(getattr(model, "cross_clip", None), "num_heads", 8)
    fits = int((memory_gib * 2**30 / (REFINE_BYTES * heads)) ** 0.5 // max(1, queries))
    return clips if clips <= fits else max(2, fits)


@dataclass
class OfflineRunner:
    """Two-pass offline segmentation: `collect` every clip, `refine`, then `decode` each clip.

    Pass 1 keeps only queries (N, D) and mask embeddings (N, E) per clip; pass 2 re-runs the
    segmenter on the same clips for their pixel features.
    """

    model: nn.Module
    window: int = 0  # clips per refinement window; 0: the whole video within `memory_gib`
    _queries: list[Tensor] = field(default_factory=list)
    _embeddings: list[Tensor] = field(default_factory=list)
    refined: RefinedVideo | None = None
    memory_gib: float = 2.0
    used_window: int | None = None  # the window of the last `refine`

    def __post_init__(self) -> None:
        if getattr(self.model, "cross_clip", None) is None:
            raise ConfigError(
                "this model has no cross-clip tracking module, so it cannot refine offline; "
                "run `axialvs segment` without --offline, or use a model trained with it"
            )
        if self.window != 0 and self.window < 2:
            raise ValueError(
                f"the refinement window must be 0 (whole video) or at least 2 clips, "
                f"got {self.window}"
            )

    @property
    def clips(self) -> int:
        return len(self._queries)

    def collect(self, clip: Tensor) -> None:
        """Pass 1: segment a clip (1, T, 3, H, W) and keep its queries and embeddings."""
        out = run_segmenter(self.model, clip)
        self._queries.append(out.queries[0].detach())
        self._embeddings.append(out.match_embeddings[0].detach())

    def refine(self) -> RefinedVideo:
        """Align the collected clips and run the cross-clip tracking module."""
        if not self._queries:
            raise ValueError("no clip was collected")
        perms = align_clips(torch.stack(self._embeddings))  # (K, N)
        queries = torch.stack([q[p] for q, p in zip(self._queries, perms, strict=True)])
        k, n = queries.shape[:2]
        window = self.window or refine_window_for(self.model, k, n, self.memory_gib)
        self.used_window = min(window, k)
        logits, kernels = refine_in_windows(self.model, queries, window)
        self.refined = RefinedVideo(logits, kernels, perms)
        self._queries, self._embeddings = [], []
        return self.refined

    def decode(self, index: int, clip: Tensor, valid: int) -> ClipPrediction:
        """Pass 2: masks of clip `index` (the same clip as in pass 1) from the refined kernels."""
        if self.refined is None:
            raise ValueError("call refine() after pass 1, before decoding")
        if not 0 <= index < self.refined.kernels.shape[0]:
            raise ValueError(f"clip {index} was not seen in pass 1")
        out = run_segmenter(self.model, clip)
        with torch.inference_mode():
            masks = self.model.decode_masks(self.refined.kernels[None, index], out.pixel_features)
        return ClipPrediction(self.refined.class_logits, masks[0], valid)


class SegmentIds:
    """Stable panoptic segment ids of one video, stored as RGB colours (id = R + 256 G + 256^2 B).

    A thing query slot keeps its id while its class stays the same; a slot painted for the
    first time, or with another class than the last time, gets a new id (a new track). Every
    stuff class has one id for the whole video. Ids look like the VIPSeg ground truth: stuff
    takes its class colour, things a unique colour near it (seeded, so runs are repeatable).

    Args:
        is_thing: per class index, whether it is a thing class.
        colours: per class index, an (r, g, b) colour.
        seed: seed of the colour jitter.
    """

    def __init__(
        self, is_thing: list[bool], colours: list[tuple[int, int, int]], seed: int = 0
    ) -> None:
        self.is_thing = is_thing
        self.colours = colours
        self._rng = random.Random(seed)
        self._slots: dict[int, tuple[int, int]] = {}  # slot -> (class, id)
        self._stuff: dict[int, int] = {}  # class -> id
        self.category: dict[int, int] = {}  # id -> class index
        self.thing_tracks = 0

    def lookup(self, slot: int, label: int) -> int:
        """The id of query `slot` painted with class index `label` in the current clip."""
        if not self.is_thing[label]:
            if label not in self._stuff:
                self._stuff[label] = self._new_id(label, jitter=False)
            return self._stuff[label]
        known = self._slots.get(slot)
        if known is not None and known[0] == label:
            return known[1]
        seg_id = self._new_id(label, jitter=True)
        self._slots[slot] = (label, seg_id)
        self.thing_tracks += 1
        return seg_id

    def _new_id(self, label: int, jitter: bool) -> int:
        base = self.colours[label]
        for attempt in range(64):
            if jitter or attempt:
                rgb = [min(255, max(0, c + self._rng.randint(-30, 30))) for c in base]
            else:
                rgb = list(base)
            seg_id = rgb[0] + 256 * rgb[1] + 65536 * rgb[2]
            if seg_id and seg_id not in self.category:
                self.category[seg_id] = label
                return seg_id
        seg_id = 1  # crowded colour neighbourhood: the smallest free id
        while seg_id in self.category:
            seg_id += 1
        self.category[seg_id] = label
        return seg_id
