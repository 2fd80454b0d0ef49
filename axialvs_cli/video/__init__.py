"""Video input and output with PyAV.

Reading streams frames one at a time from a video file (any container/codec FFmpeg decodes) or
a folder of JPEG/PNG frames, with the display rotation applied and each frame's own timestamp
kept. Writing produces an H.264 MP4 with the same timing. Resizing helpers take frames to the
model's size and label maps back.

    with open_video("clip.mov") as source:          # VideoSource
        for frame in source:                        # Frame(index, rgb, pts_seconds, name)
            ...
        if source.error:                            # decoding broke after frames_read frames
            ...
"""

from .folder import list_frames, natural_key
from .inputs import VIDEO_SUFFIXES, expand_inputs, open_video
from .orientation import apply_orientation, orientation_from_matrix
from .resize import resize_labels, resize_rgb, resize_shorter_side, shorter_side_size
from .source import Frame, VideoSource
from .writer import VideoWriter

__all__ = [
    "VIDEO_SUFFIXES",
    "Frame",
    "VideoSource",
    "VideoWriter",
    "apply_orientation",
    "expand_inputs",
    "list_frames",
    "natural_key",
    "open_video",
    "orientation_from_matrix",
    "resize_labels",
    "resize_rgb",
    "resize_shorter_side",
    "shorter_side_size",
]
