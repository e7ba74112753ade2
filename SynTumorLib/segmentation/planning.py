"""nnU-Net-style planning of a DynUNet: kernels and strides from the voxel spacing and patch size.

nnU-Net does not hard-code an anisotropic table (the reference code does); it derives the
architecture from the data. The rule reproduced here (nnU-Net v2, ``get_pool_and_conv_props``):

* at every level, pool (stride 2) along an axis only while its *current* spacing is at most twice
  the smallest current spacing **and** its current size is at least 8 voxels (so it stays ≥ 4);
* use kernel 3 along an axis once its current spacing is within 2× of the smallest, kernel 1 along
  axes still too coarse (a 3-tap kernel across 5 mm slices mixes unrelated anatomy);
* after pooling an axis its spacing doubles and its size halves; stop after ``max_levels``
  down-sampling steps or when no axis can be pooled.

All sequences are in **array order (k, j, i)** — the order of the patch and of ``Volume.array`` —
so pass ``Volume.array_spacing``.

Example:
    >>> p = plan_dynunet(spacing_kji=(2.5, 0.8, 0.8), patch_size=(48, 96, 96))
    >>> p["strides"][1:3], p["kernel_size"][:2]
    ([[1, 2, 2], [2, 2, 2]], [[1, 3, 3], [3, 3, 3]])
"""

from __future__ import annotations

from collections.abc import Sequence

from ..utils.errors import InputError

MIN_POOL_SIZE = 8  # an axis is pooled only while it has ≥ 8 voxels (keeps ≥ 4 at the bottom)
ANISOTROPY = 2.0  # an axis counts as "fine enough" while spacing ≤ 2 × the smallest spacing


def plan_dynunet(
    spacing_kji: Sequence[float],
    patch_size: Sequence[int],
    max_levels: int = 5,
) -> dict:
    """Plan DynUNet ``kernel_size``, ``strides`` and ``upsample_kernel_size`` (nnU-Net's rule).

    Args:
        spacing_kji: voxel size in mm along the array axes (k, j, i) of the training patches.
        patch_size: patch (crop) size in voxels, array order.
        max_levels: most down-sampling steps (nnU-Net: 5 for 3-D).

    Returns:
        ``{"kernel_size": [[...], ...], "strides": [[1,1,1], ...], "upsample_kernel_size": [...]}``
        — lists of per-level triples; ``strides[0]`` is always ``[1, 1, 1]`` (the input block).
        Patch sizes must be divisible by the product of the strides per axis; the planner checks it.
    """
    sp = [float(s) for s in spacing_kji]
    size = [int(s) for s in patch_size]
    if len(sp) != 3 or any(s <= 0 for s in sp):
        raise InputError(f"spacing_kji must be three positive numbers, got {list(spacing_kji)}")
    if len(size) != 3 or any(s < 1 for s in size):
        raise InputError(f"patch_size must be three positive integers, got {list(patch_size)}")
    if not 1 <= int(max_levels) <= 7:
        raise InputError(f"max_levels must be between 1 and 7, got {max_levels}")

    def kernel(cur_sp: list[float]) -> list[int]:
        smallest = min(cur_sp)
        return [3 if s <= ANISOTROPY * smallest else 1 for s in cur_sp]

    kernels = [kernel(sp)]
    strides = [[1, 1, 1]]
    for _ in range(int(max_levels)):
        smallest = min(sp)
        stride = [2 if (s <= ANISOTROPY * smallest and n >= MIN_POOL_SIZE) else 1 for s, n in zip(sp, size, strict=True)]
        if stride == [1, 1, 1]:
            break
        for a in range(3):
            if stride[a] == 2:
                if size[a] % 2:
                    raise InputError(
                        f"patch size {list(patch_size)} cannot be pooled along axis {a} (odd size {size[a]} at a "
                        "deeper level); use a multiple of 32 (e.g. 96) or a smaller max_levels"
                    )
                sp[a] *= 2
                size[a] //= 2
        strides.append(stride)
        kernels.append(kernel(sp))
    if len(strides) < 2:
        raise InputError(f"patch size {list(patch_size)} is too small to down-sample even once (need ≥ {MIN_POOL_SIZE} voxels)")
    return {"kernel_size": kernels, "strides": strides, "upsample_kernel_size": strides[1:]}
