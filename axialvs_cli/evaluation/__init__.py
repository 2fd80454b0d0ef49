"""Benchmark metrics in numpy, computed as the official evaluators compute them.

- `vpq`: Video Panoptic Quality (VIPSeg's ``eval_vpq_vspw.py``);
- `stq`: Segmentation and Tracking Quality (VIPSeg's ``eval_stq_vspw.py`` over deeplab2);
- `track_ap`: YouTube-VIS / OVIS track AP and AR (youtubevos ``YTVOSeval``);
- `api`: ``evaluate_vipseg`` and ``evaluate_ytvis``, what ``axialvs evaluate`` calls.
"""
