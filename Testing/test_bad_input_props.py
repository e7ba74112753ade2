"""Property-based tests of size, σ and count validation: whatever numbers come in (huge, tiny, NaN,
negative), each call either works or raises ``InputError`` — never allocates beyond the memory
budget (measured with tracemalloc, which sees numpy's buffers) and never runs past a time limit
the test sets itself (a POSIX interval timer per example)."""

from __future__ import annotations

import contextlib
import signal
import tracemalloc

import numpy as np
import pytest
from conftest import make_tiny_ct

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from SynTumorLib.utils.errors import InputError  # noqa: E402

BUDGET = 64 * 2**20  # SYNTUMOR_MEMORY_BUDGET for these tests
EXAMPLE_S = 20.0  # one example that takes longer is a hang
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# half sensible values, half hostile ones (huge, negative, NaN, infinite)
lengths = st.one_of(st.floats(min_value=0.0, max_value=12.0), st.floats(min_value=0.0, max_value=12.0),
                    st.floats(min_value=-10, max_value=1e12),
                    st.sampled_from([0.0, 1e3, 1e6, 1e9, float("nan"), float("inf"), -float("inf")]))
hostile = st.one_of(st.floats(min_value=-10, max_value=1e12),
                    st.sampled_from([0.0, 1e3, 1e6, 1e9, float("nan"), float("inf"), -float("inf")]))
sane_radius = st.floats(min_value=1.5, max_value=5.0)
small = st.one_of(sane_radius, sane_radius, sane_radius, sane_radius, hostile)  # radii: mostly sensible
counts = st.one_of(st.integers(min_value=1, max_value=4), st.integers(min_value=1, max_value=4),
                   st.integers(min_value=-3, max_value=10**9), st.sampled_from([0, 100, 101, 10**6]))
points_ = st.one_of(st.integers(min_value=2, max_value=8), st.integers(min_value=2, max_value=8), counts)


@pytest.fixture(autouse=True)
def small_budget(monkeypatch):
    monkeypatch.setenv("SYNTUMOR_MEMORY_BUDGET", str(BUDGET))


@contextlib.contextmanager
def bounded():
    """Run the block under the time limit and measure its peak allocation; yields the peak (a list)."""
    peak = [0]
    if hasattr(signal, "setitimer"):
        def hang(signum, frame):
            raise TimeoutError(f"an example ran longer than {EXAMPLE_S} s")

        old = signal.signal(signal.SIGALRM, hang)
        signal.setitimer(signal.ITIMER_REAL, EXAMPLE_S)
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak[0] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        if hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


def works_or_refuses(fn) -> str:
    """'ok' or 'refused' (InputError); anything else — another exception, a hang, an allocation beyond
    the budget — fails the test."""
    with bounded() as peak:
        try:
            fn()
            outcome = "ok"
        except InputError:
            outcome = "refused"
    assert peak[0] <= BUDGET, f"allocated {peak[0] / 2**20:.0f} MiB, beyond the {BUDGET / 2**20:.0f} MiB budget"
    event(outcome)  # --hypothesis-show-statistics: how many examples worked, how many were refused
    return outcome


MASK = np.zeros((16, 16, 16), bool)
MASK[5:11, 5:11, 5:11] = True


@SETTINGS
@given(sigma=lengths, points=points_, margin=st.one_of(st.none(), lengths),
       spacing=st.tuples(*[st.floats(0.2, 5.0)] * 3), mode=st.sampled_from(["independent", "pairs"]))
def test_elastic_deformation(sigma, points, margin, spacing, mode):
    from SynTumorLib.geometry.elastic import elastic_deform_mask

    works_or_refuses(lambda: elastic_deform_mask(MASK, sigma, spacing, seed=1, points=points, mode=mode, margin_mm=margin))


@pytest.fixture(scope="module")
def ct():
    return make_tiny_ct(shape=(24, 32, 32), spacing=(1.5, 1.5, 1.5))


@SETTINGS
@given(radii=st.one_of(st.none(), st.tuples(small, small, small)), sigma=st.one_of(st.none(), lengths),
       bulge=st.one_of(st.none(), lengths), count=st.one_of(st.none(), counts),
       size_class=st.sampled_from(["tiny", "small", "large", "mixed"]))
def test_insertion_sizes(ct, radii, sigma, bulge, count, size_class):
    from SynTumorLib.insertion import insert_tumours

    image, label = ct
    spec = {"size_class": size_class, "radii_mm": radii, "sigma_mm": sigma, "bulge_mm": bulge, "count": count}
    works_or_refuses(lambda: insert_tumours(image, label, spec, seed=0))


@st.composite
def size_class_sets(draw):
    """A valid one-class set, or one with a single field made hostile (so each check is met alone)."""
    lo = draw(st.floats(min_value=2.0, max_value=4.0))
    c = {"radius_mm": lo + 0.5, "range_mm": [lo, lo + draw(st.floats(0.0, 1.5))],
         "sigma_mm": [0.5, 0.5 + draw(st.floats(0.0, 1.0))], "count": [1, draw(st.integers(1, 3))]}
    field = draw(st.sampled_from([None, "radius_mm", "range_lo", "range_hi", "sigma_hi", "count_hi"]))
    bad = draw(st.one_of(hostile, counts))
    if field == "radius_mm":
        c["radius_mm"] = bad
    elif field is not None:
        key, end = {"range_lo": ("range_mm", 0), "range_hi": ("range_mm", 1), "sigma_hi": ("sigma_mm", 1),
                    "count_hi": ("count", 1)}[field]
        c[key][end] = bad
    return {"name": "p", "classes": {"c": c}}


@SETTINGS
@given(classes=size_class_sets())
def test_size_class_sets(ct, classes):
    from SynTumorLib.insertion import insert_tumours

    image, label = ct
    # an accepted class set must also be safe to insert with (a hang here was a 1e9 mm radius)
    works_or_refuses(lambda: insert_tumours(image, label, {"size_class": "c", "classes": classes, "max_attempts": 5}, seed=0))


@SETTINGS
@given(sigma=lengths, points=points_, mode=st.sampled_from(["independent", "pairs"]))
def test_label_corruption(ct, sigma, points, mode):
    from SynTumorLib.corruption import corrupt_label

    _, label = ct
    lab = label.array.copy()
    k, j, i = np.argwhere(lab == 1)[len(np.argwhere(lab == 1)) // 2]
    lab[k - 2:k + 2, j - 2:j + 2, i - 2:i + 2] = 2
    works_or_refuses(lambda: corrupt_label(label.with_array(lab), sigma_mm=sigma, seed=0, control_points=points, mode=mode))


@SETTINGS
@given(crop=st.one_of(st.lists(st.sampled_from([8, 16, 32, 64, 96, 128]), min_size=3, max_size=3),
                     st.lists(st.integers(min_value=-5, max_value=10**7), min_size=1, max_size=4)),
       batch=st.one_of(st.integers(min_value=1, max_value=4), st.integers(min_value=-1, max_value=10**6)))
def test_training_crop_and_batch(crop, batch):
    from SynTumorLib.segmentation.config import TrainConfig

    cfg = {"model": {"name": "unet"}, "data": {"real": "/data"}, "crop_size": crop, "batch_size": batch}
    works_or_refuses(lambda: TrainConfig.from_dict(cfg))
