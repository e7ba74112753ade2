"""SynthesizeTumourd: online synthesis on crops — aligned image/label, types kept, skips, replay."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from builders import make_tiny_ct

from SynTumorLib.data.intensity import window
from SynTumorLib.insertion import replay
from SynTumorLib.insertion.transform import SynthesizeTumourd
from SynTumorLib.utils.errors import InputError

torch.set_num_threads(1)


@pytest.fixture
def crop():
    image, label = make_tiny_ct(spacing=(1.0, 1.0, 1.0))
    return image, label


@pytest.mark.parametrize("kind", ["numpy", "torch", "metatensor"])
def test_transform_keeps_image_and_label_aligned(crop, kind):
    image, label = crop
    img = window(image.array)[None]
    lab = label.array[None].copy()
    if kind == "numpy":
        d = {"image": img, "label": lab}
    elif kind == "torch":
        d = {"image": torch.as_tensor(img), "label": torch.as_tensor(lab)}
    else:
        from monai.data import MetaTensor

        aff = np.diag([1.0, 1.0, 1.0, 1.0])
        d = {"image": MetaTensor(torch.as_tensor(img), affine=aff), "label": MetaTensor(torch.as_tensor(lab), affine=aff)}
    t = SynthesizeTumourd(size_class="small", prob=1.0, intensity="window", spacing=(1, 1, 1))
    t.set_random_state(seed=4)
    out = t(d)
    assert type(out["image"]) is type(d["image"]) and type(out["label"]) is type(d["label"])
    oi = np.asarray(out["image"])[0]
    ol = np.asarray(out["label"])[0]
    assert oi.shape == img[0].shape and oi.dtype == img.dtype and ol.dtype == lab.dtype
    rec = json.loads(out["synthesis"])
    assert rec["applied"] and t.last_record["applied"]
    tum = ol == 2
    changed = oi != img[0]
    assert tum.any()
    # every changed voxel lies in the tumour or its thin blend margin; the tumour itself changed
    from scipy import ndimage

    near = ndimage.binary_dilation(tum, iterations=3)
    assert not np.any(changed & ~near)
    assert changed[tum].mean() > 0.8
    assert oi[tum].mean() < img[0][lab[0] == 1].mean()
    # inputs untouched
    assert np.array_equal(np.asarray(d["image"])[0], img[0])
    # the embedded insertion record replays on the HU crop
    from SynTumorLib import Volume
    from SynTumorLib.data.intensity import unwindow

    hu = Volume.from_geometry(unwindow(img[0]), spacing=(1, 1, 1))
    _, rlab = replay(hu, hu.with_array((lab[0] == 1).astype(np.uint8)), t.last_record["insertion"])
    assert np.array_equal(rlab.array, ol)


def test_transform_skips_tumour_and_empty_crops_and_respects_prob(crop):
    image, label = crop
    img = image.array[None].astype(np.float32)
    t = SynthesizeTumourd(size_class="tiny", prob=1.0, intensity="hu")
    t.set_random_state(seed=1)
    real = label.array[None].copy()
    real[0, 20, 24, 24] = 2
    out = t({"image": img, "label": real})
    assert not t.last_record["applied"] and "real tumour" in t.last_record["reason"]
    assert np.array_equal(out["image"], img)
    out = t({"image": img, "label": np.zeros_like(real)})
    assert "no pancreas" in t.last_record["reason"]
    never = SynthesizeTumourd(size_class="tiny", prob=0.0)
    never.set_random_state(seed=1)
    never({"image": img, "label": label.array[None]})
    assert not never.last_record["applied"]
    # p = 0.5: about half of the calls synthesise, reproducibly for a given state
    half = SynthesizeTumourd(size_class="tiny", prob=0.5, record_key=None)
    half.set_random_state(seed=0)
    flags = []
    for _ in range(12):
        o = half({"image": img, "label": label.array[None]})
        flags.append(half.last_record["applied"])
        assert "synthesis" not in o
    assert 2 <= sum(flags) <= 10


def test_transform_rejects_bad_arguments():
    with pytest.raises(InputError):
        SynthesizeTumourd(prob=1.5)
    with pytest.raises(InputError):
        SynthesizeTumourd(intensity="raw")
    with pytest.raises(InputError):
        SynthesizeTumourd(size_class="gigantic")
