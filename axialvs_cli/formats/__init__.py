"""Readers and writers of the benchmark file formats.

- `rle`: COCO run-length encoding of binary masks (numpy, no pycocotools);
- `palette`: the RGB encoding of panoptic segment ids in PNGs;
- `vipseg`: VIPSeg ground truth (VIPSeg_720P) and submission folders;
- `ytvis`: YouTube-VIS / OVIS annotation and results JSON.
"""
