"""Mapping tables from the official Axial-VS checkpoints' state-dict keys to ours.

Two official code bases released checkpoints (the code calls the method "MaXTron"):
`MaXTron_Video-kMaX` (detectron2, VPS: key prefixes `backbone.`, `sem_seg_head.`,
`cross_clip_tracking_module.`) and `MaXTron_Tube-Link` (mmdetection, VIS: `backbone.`,
`panoptic_head.`). Every rule maps an official key template to one or more of ours, or drops
it with a reason. Templates hold placeholders: `{p}` one parameter name (`weight`,
`running_mean`, ...), `{tail}` any dotted rest, any other `{name}` a number. A target starting
with "?" is filled only when the model has that key (the Tube-Link heads are shared by the
clip segmenter and the cross-clip module). The first rule that matches a key wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VARIANTS = ("video-kmax", "tube-link")


@dataclass(frozen=True)
class Rule:
    """official -> ours (empty: dropped because of `reason`); `note` names the config option
    that makes the computation the official one, or what else to know about the row."""

    official: str
    ours: tuple[str, ...] = ()
    reason: str = ""
    note: str = ""


def _regex(template: str) -> re.Pattern[str]:
    out, pos = [], 0
    for m in re.finditer(r"\{(\w+)\}", template):
        out.append(re.escape(template[pos : m.start()]))
        name = m.group(1)
        body = r"[A-Za-z_]+" if name == "p" else r".+" if name == "tail" else r"\d+"
        out.append(f"(?P<{name}>{body})")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out))


def match(template: str, key: str) -> dict[str, str] | None:
    """The placeholder values if `key` fits `template`, else None."""
    m = _regex(template.lstrip("?")).fullmatch(key)
    return m.groupdict() if m else None


def fill(template: str, values: dict[str, str]) -> str:
    """`template` (without its optional "?") with the placeholders filled in."""
    return template.lstrip("?").format(**values)


def _map(official: str, *ours: str, note: str = "") -> Rule:
    return Rule(official, tuple(ours), note=note)


def _drop(official: str, reason: str) -> Rule:
    return Rule(official, (), reason=reason)


BN_EPS_NOTE = "BN eps 1e-3 (TF style) as official: `backbone.norm_eps`"

# ------------------------------------------------------------------------------------------
# MaXTron_Video-kMaX (detectron2).


def _detectron2_resnet() -> list[Rule]:
    rules = [
        _map("backbone.stem.conv1.weight", "backbone.conv1.weight"),
        _map("backbone.stem.conv1.norm.{p}", "backbone.bn1.{p}", note=BN_EPS_NOTE),
    ]
    for stage in range(2, 6):
        src, dst = f"backbone.res{stage}.{{b}}", f"backbone.layer{stage - 1}.{{b}}"
        rules += [
            _map(f"{src}.conv{{k}}.weight", f"{dst}.conv{{k}}.weight"),
            _map(f"{src}.conv{{k}}.norm.{{p}}", f"{dst}.bn{{k}}.{{p}}", note=BN_EPS_NOTE),
            _map(f"{src}.shortcut.weight", f"{dst}.downsample.0.weight"),
            _map(f"{src}.shortcut.norm.{{p}}", f"{dst}.downsample.1.{{p}}", note=BN_EPS_NOTE),
        ]
    return rules


CONVNEXT_BACKBONE = [
    _map("backbone.downsample_layers.{tail}", "backbone.downsample_layers.{tail}"),
    _map("backbone.stages.{tail}", "backbone.stages.{tail}"),
]

_WC = "sem_seg_head.wc_module.within_clip_tracking_module."
_PD = "sem_seg_head.pixel_decoder."
_TD = "sem_seg_head.predictor."
_AUX = _TD + "_auxiliary_semantic_predictor."
_CC = "cross_clip_tracking_module."

_KMAX_PREDICTOR = {  # official kMaXPredictor part -> ours
    "_pixel_space_head_conv0bnact.{tail}": "pixel_dw.{tail}",
    "_pixel_space_head_conv1bnact.{tail}": "pixel_conv.{tail}",
    "_pixel_space_head_last_convbn.{tail}": "pixel_out.{tail}",
    "_transformer_mask_head.{tail}": "mask_head.{tail}",
    "_transformer_class_head.conv.{p}": "class_head.{p}",
    "_pixel_space_mask_batch_norm.{p}": "mask_norm.{p}",
}
_KMAX_LAYER = {  # official kMaXTransformerLayer part -> ours
    "_pixel_conv1_bn_act.{tail}": "pixel_conv1.{tail}",
    "_query_conv1_bn_act.{tail}": "query_conv1.{tail}",
    "_pixel_v_conv_bn.{tail}": "pixel_value.{tail}",
    "_query_qkv_conv_bn.{tail}": "query_qkv.{tail}",
    "_query_self_attention._batch_norm_similarity.{p}": "self_attention.bn_similarity.{p}",
    "_query_self_attention._batch_norm_retrieved_value.{p}": "self_attention.bn_output.{p}",
    "_query_conv3_bn.{tail}": "query_conv3.{tail}",
    "_query_ffn_conv1_bn_act.{tail}": "ffn1.{tail}",
    "_query_ffn_conv2_bn.{tail}": "ffn2.{tail}",
    "_kmeans_query_batch_norm_retrieved_value.{p}": "kmeans_norm.{p}",
    "_kmeans_query_conv3_bn.{tail}": "kmeans_conv3.{tail}",
    **{f"_predictor.{k}": f"predictor.{v}" for k, v in _KMAX_PREDICTOR.items()},
    # the COCO kMaX-DeepLab checkpoints spell the layers' predictor this way
    **{f"_predcitor.{k}": f"predictor.{v}" for k, v in _KMAX_PREDICTOR.items()},
}
_AXIAL_BLOCK = {  # official SingleBlock part -> ours (DecoderBlock)
    "_conv1_bn_act.{tail}": "conv1.{tail}",
    "_conv2_bn_act.{tail}": "conv2.{tail}",
    "_conv3_bn.{tail}": "conv3.{tail}",
    "_shortcut.{tail}": "shortcut.{tail}",
    **{
        f"_attention._{axis}_axis.{src}": f"attention.{axis}.{dst}"
        for axis in ("height", "width")
        for src, dst in {
            "qkv_transform.conv.weight": "qkv.weight",
            "_query_rpe._embeddings.weight": "query_rpe.weight",
            "_key_rpe._embeddings.weight": "key_rpe.weight",
            "_value_rpe._embeddings.weight": "value_rpe.weight",
            "_batch_norm_qkv.{p}": "bn_qkv.{p}",
            "_batch_norm_similarity.{p}": "bn_similarity.{p}",
            "_batch_norm_retrieved_output.{p}": "bn_output.{p}",
        }.items()
    },
}
_SEMANTIC = {  # official SemanticPredictor part -> ours (SemanticHead)
    "_aspp._aspp_conv{k}.{tail}": "aspp.branches.{k}.{tail}",
    "_aspp._aspp_pool.{tail}": "aspp.pool.{tail}",
    "_aspp._proj_conv_bn_act.{tail}": "aspp.project.{tail}",
    "_low_level_projection_os8.{tail}": "proj8.{tail}",
    "_low_level_fusion_os8_conv0_bn_act.{tail}": "fuse8.0.{tail}",
    "_low_level_fusion_os8_conv1_bn_act.{tail}": "fuse8.1.{tail}",
    "_low_level_projection_os4.{tail}": "proj4.{tail}",
    "_low_level_fusion_os4_conv0_bn_act.{tail}": "fuse4.0.{tail}",
    "_low_level_fusion_os4_conv1_bn_act.{tail}": "fuse4.1.{tail}",
    "conv_block_0.{tail}": "head.0.{tail}",
    "conv_block_1.{tail}": "head.1.{tail}",
    "final_conv.conv.{p}": "classifier.{p}",
}
_TEMPORAL_ASPP = {  # official cross-clip layer parts (both code bases) -> ours
    "transformer_trajectory_self_attention_layers.{i}.self_attn.{tail}": "layers.{i}.attn.{tail}",
    "transformer_trajectory_self_attention_layers.{i}.norm.{p}": "layers.{i}.attn_norm.{p}",
    "conv_short_aggregate_layers.{i}._aspp_conv{k}.{p}": "layers.{i}.aspp.convs.{k}.{p}",
    "conv_short_aggregate_layers.{i}._proj_conv_bn_act.conv.weight": (
        "layers.{i}.aspp.project.conv.weight"
    ),
    "conv_short_aggregate_layers.{i}._proj_conv_bn_act.norm.{p}": "layers.{i}.aspp.project.norm.{p}",
    "conv_norms.{i}.{p}": "layers.{i}.aspp_norm.{p}",
}

RESIZE_NOTE = (
    "resize corners aligned by the source width's parity, as official: `pixel_decoder.corners`"
)
STACK_NOTE = (
    "5x5 conv over the frames stacked as one image, as official: `decoder.stacked_pixel_head`"
)

VIDEO_KMAX_HEAD: list[Rule] = [
    _map(_WC + "input_proj.{i}.{j}.{p}", "within_clip.input_proj.{i}.{j}.{p}"),
    _map(_WC + "output_proj.{i}.{j}.{p}", "within_clip.output_proj.{i}.{j}.{p}"),
    _map(_WC + "transformer.level_embed_2d", "within_clip.level_embed_2d"),
    _map(_WC + "transformer.level_embed_3d", "within_clip.level_embed_3d"),
    _map(
        _WC + "transformer.encoder.spatial_layers.{s}.{tail}",
        "within_clip.blocks.{s}.deform.0.{tail}",
    ),
    _map(
        _WC + "transformer.encoder.temporal_layers.{s}.temporal_layers.{l}.{tail}",
        "within_clip.blocks.{s}.temporal.{l}.{tail}",
    ),
    _map(_PD + "_in_norms.{i}.{p}", "pixel_decoder.in_norms.{i}.{p}"),
    *(
        _map(
            _PD + "_stages.{s}._blocks.{b}." + src,
            "pixel_decoder.stages.{s}.{b}." + dst,
            note="relative positions of the actual size (the official table at its trained size)"
            if "rpe" in src
            else "",
        )
        for src, dst in _AXIAL_BLOCK.items()
    ),
    _map(
        _PD + "_resized_fuses.{i}._conv_bn_low.{tail}",
        "pixel_decoder.fuses.{i}.low_proj.{tail}",
        note=RESIZE_NOTE,
    ),
    _map(
        _PD + "_resized_fuses.{i}._conv_bn_high.{tail}", "pixel_decoder.fuses.{i}.high_proj.{tail}"
    ),
    *(
        _map(
            _TD + "_kmax_transformer_layers.{i}." + src,
            "decoder.layers.{i}." + dst,
            note=STACK_NOTE if src.startswith(("_predictor._pixel", "_predcitor._pixel")) else "",
        )
        for src, dst in _KMAX_LAYER.items()
    ),
    _map(_TD + "_cluster_centers.weight", "decoder.cluster_centers"),
    _map(_TD + "_class_embedding_projection.{tail}", "decoder.class_proj.{tail}"),
    _map(_TD + "_mask_embedding_projection.{tail}", "decoder.mask_proj.{tail}"),
    *(
        _map(
            _TD + "_predictor." + src,
            "decoder.predictor." + dst,
            note=STACK_NOTE if src.startswith("_pixel_space_head") else "",
        )
        for src, dst in _KMAX_PREDICTOR.items()
    ),
    *(_map(_AUX + src, "semantic_head." + dst) for src, dst in _SEMANTIC.items()),
    *(_map(_CC + src, "cross_clip." + dst) for src, dst in _TEMPORAL_ASPP.items()),
    _map(_CC + "_class_embedding_projection.{tail}", "cross_clip.class_proj.{tail}"),
    _map(_CC + "_mask_embedding_projection.{tail}", "cross_clip.mask_proj.{tail}"),
    _map(_CC + "_predictor._transformer_mask_head.{tail}", "cross_clip.mask_head.{tail}"),
    _map(_CC + "_predictor._transformer_class_head.conv.{p}", "cross_clip.class_head.{p}"),
    _map(
        _CC + "_predictor._transformer_class_activation_head.conv.{p}",
        "cross_clip.clip_weight_head.{p}",
        note="softmax over the clips of the video (official: of the batch, which is one video)",
    ),
    _map(_CC + "_predictor._pixel_space_mask_batch_norm.{p}", "cross_clip.mask_norm.{p}"),
    _drop("criterion.{tail}", "loss-function state (class weights), not part of the network"),
    _drop("pixel_mean", "input normalisation: stored in the config and the checkpoint meta"),
    _drop("pixel_std", "input normalisation: stored in the config and the checkpoint meta"),
]

# ------------------------------------------------------------------------------------------
# MaXTron_Tube-Link (mmdetection).

MMDET_RESNET = [
    _drop("backbone.{tail}.num_batches_tracked", "frozen batch norm (norm_eval) keeps no counter"),
    _map("backbone.{tail}", "backbone.{tail}", note="torchvision layout; BN frozen in both"),
]

SWIN_BACKBONE = [
    _map("backbone.patch_embed.{tail}", "backbone.patch_embed.{tail}"),
    _map(
        "backbone.stages.{tail}",
        "backbone.stages.{tail}",
        note="mmdetection SwinTransformer layout",
    ),
    _map("backbone.norm{i}.{p}", "backbone.norm{i}.{p}"),
]

_PX = "panoptic_head.pixel_decoder."
_ENC = _PX + "encoder.layers.{i}."
_HD = "panoptic_head."
_DEC = _HD + "transformer_decoder.layers.{i}."

TUBE_LINK_HEAD: list[Rule] = [
    _map(_PX + "input_convs.{i}.conv.{p}", "within_clip.input_proj.{i}.conv.{p}"),
    _map(_PX + "input_convs.{i}.gn.{p}", "within_clip.input_proj.{i}.norm.{p}"),
    _map(_PX + "level_encoding.weight", "within_clip.level_embed_2d"),
    _map(_PX + "level_3d_encodeing.weight", "within_clip.level_embed_3d"),
    _map(
        _ENC + "attentions.0.temporal_layer.temporal_layers.{l}.{tail}",
        "within_clip.blocks.{i}.temporal.{l}.{tail}",
    ),
    _map(_ENC + "attentions.0.gamma", "within_clip.blocks.{i}.gamma"),
    _map(_ENC + "attentions.0.{tail}", "within_clip.blocks.{i}.self_attn.{tail}"),
    _map(_ENC + "ffns.0.layers.0.0.{p}", "within_clip.blocks.{i}.linear1.{p}"),
    _map(_ENC + "ffns.0.layers.1.{p}", "within_clip.blocks.{i}.linear2.{p}"),
    _map(_ENC + "norms.0.{p}", "within_clip.blocks.{i}.norm1.{p}"),
    _map(_ENC + "norms.1.{p}", "within_clip.blocks.{i}.norm2.{p}"),
    _map(_PX + "lateral_convs.{i}.conv.{p}", "pixel_decoder.lateral_convs.{i}.conv.{p}"),
    _map(_PX + "lateral_convs.{i}.gn.{p}", "pixel_decoder.lateral_convs.{i}.norm.{p}"),
    _map(_PX + "output_convs.{i}.conv.{p}", "pixel_decoder.output_convs.{i}.conv.{p}"),
    _map(_PX + "output_convs.{i}.gn.{p}", "pixel_decoder.output_convs.{i}.norm.{p}"),
    _map(_PX + "mask_feature.{p}", "pixel_decoder.mask_feature.{p}"),
    _map(_DEC + "attentions.0.attn.{tail}", "decoder.layers.{i}.cross_attn.{tail}"),
    _map(_DEC + "attentions.1.attn.{tail}", "decoder.layers.{i}.self_attn.{tail}"),
    _map(_DEC + "ffns.0.layers.0.0.{p}", "decoder.layers.{i}.linear1.{p}"),
    _map(_DEC + "ffns.0.layers.1.{p}", "decoder.layers.{i}.linear2.{p}"),
    _map(_DEC + "norms.0.{p}", "decoder.layers.{i}.norm1.{p}"),
    _map(_DEC + "norms.1.{p}", "decoder.layers.{i}.norm2.{p}"),
    _map(_DEC + "norms.2.{p}", "decoder.layers.{i}.norm3.{p}"),
    _map(
        _HD + "transformer_decoder.post_norm.{p}",
        "decoder.post_norm.{p}",
        "?cross_clip.post_norm.{p}",
    ),
    _map(_HD + "decoder_input_projs.{i}.{p}", "decoder.input_proj.{i}.{p}"),
    _map(_HD + "query_embed.weight", "decoder.query_embed.weight"),
    _map(_HD + "query_feat.weight", "decoder.query_feat.weight"),
    _map(_HD + "level_embed.weight", "decoder.level_embed.weight"),
    _map(_HD + "cls_embed.{p}", "decoder.class_head.{p}", "?cross_clip.class_head.{p}"),
    _map(_HD + "mask_embed.{k}.{p}", "decoder.mask_head.{k}.{p}", "?cross_clip.mask_head.{k}.{p}"),
    *(_map(_HD + src, "cross_clip." + dst) for src, dst in _TEMPORAL_ASPP.items()),
    _map(_HD + "activation_proj.{p}", "cross_clip.clip_weight_head.{p}"),
]


def rules_for(variant: str, backbone: str) -> list[Rule]:
    """The rule list of a variant ("video-kmax" | "tube-link") and backbone family
    ("resnet" | "convnext", which covers ConvNeXt-V2 | "swin")."""
    if variant == "video-kmax":
        return (
            _detectron2_resnet() if backbone == "resnet" else CONVNEXT_BACKBONE
        ) + VIDEO_KMAX_HEAD
    return (SWIN_BACKBONE if backbone == "swin" else MMDET_RESNET) + TUBE_LINK_HEAD


def markdown_table(rules: list[Rule]) -> str:
    """Rules as a Markdown table (the tables of docs/CONVERT.md are made with this)."""
    lines = ["| official key | axialvs key(s) | note |", "|---|---|---|"]
    for r in rules:
        ours = "<br>".join(f"`{t}`" for t in r.ours) if r.ours else "*dropped*"
        lines.append(f"| `{r.official}` | {ours} | {r.reason or r.note} |")
    return "\n".join(lines)
