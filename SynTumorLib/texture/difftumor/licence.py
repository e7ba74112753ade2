"""The notice every imported DiffTumor model folder carries (in its card's ``licence`` and provenance).

Example:
    >>> "CC BY-NC-ND 4.0" in LICENCE_NOTICE and "patents pending" in LICENCE_NOTICE
    True
"""

LICENCE_NOTICE = (
    "DiffTumor models (Chen et al., 'Towards Generalizable Tumor Synthesis', CVPR 2024). DiffTumor's code "
    "is (c) The Johns Hopkins University under CC BY-NC-ND 4.0 (non-commercial); its README states that "
    "the method is covered by patents pending. The weights are published on the MrGiovanni/DiffTumor model "
    "page (tagged apache-2.0 there); their training data (AbdomenAtlas, MSD, LiTS, KiTS) have their own "
    "terms. SynTumor re-implements the networks (TATS, video-diffusion-pytorch: MIT) and contains no "
    "DiffTumor code. Check that your use is permitted before using these weights.")
