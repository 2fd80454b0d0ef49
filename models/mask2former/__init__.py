"""The Tube-Link clip segmenter (Mask2Former over a clip) used by Axial-VS for video instance
segmentation (paper appendix A).

Parts, wired by `models.build.build_axialvs` when `segmenter="mask2former"`:

    encoder.Mask2FormerEncoder      MSDeformAttn encoder of the pixel decoder (strides 32/16/8,
                                    per frame) with axial-trajectory layers inserted into each
                                    layer (N_w = 6); plays the within-clip tracking role
    pixel_decoder.Mask2FormerPixelDecoder
                                    FPN step to stride 4 and the mask features
    decoder.Mask2FormerDecoder      masked-attention transformer decoder over the clip's tubes,
                                    class and mask heads
"""
