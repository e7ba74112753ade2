"""Builders of synthetic DiffTumor-layout checkpoints for the tests (no real weights, no omegaconf).

* :func:`fake_omegaconf` registers throw-away classes as ``omegaconf.*`` in ``sys.modules`` only
  while a checkpoint is being pickled, and builds configs shaped like omegaconf's pickles (a
  ``ContainerMetadata`` with ``typing.Any`` and a ``defaultdict(dict)`` resolver cache, ``AnyNode``
  leaves, a ``ListConfig`` keyed by ``int``).
* :func:`write_marker` is a module-level function that writes a file: a pickle that names it is
  "malicious" — unpickling it normally would run it.
* :func:`old_numpy_spelling` rewrites a pickle's ``numpy._core`` to ``numpy.core`` (how files
  written under NumPy 1.x, like DiffTumor's, spell the scalar constructor).
"""

from __future__ import annotations

import collections
import contextlib
import io
import sys
import types
import typing
import zipfile
from pathlib import Path

import torch

_MODULES = ("omegaconf", "omegaconf.base", "omegaconf.dictconfig", "omegaconf.listconfig", "omegaconf.nodes")


def write_marker(path: str) -> str:
    """Side effect a malicious checkpoint would trigger on unpickling."""
    Path(path).write_text("unpickled!")
    return path


class MarkerPayload:
    """Pickles as ``write_marker(path)``: plain ``pickle.load`` would call it."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (write_marker, (self.path,))


@contextlib.contextmanager
def fake_omegaconf():
    """Yield a ``to_config(dict)`` builder while fake ``omegaconf`` modules exist; remove them after."""
    if any(m in sys.modules for m in _MODULES):
        raise RuntimeError("a real omegaconf is imported; the fake one would shadow it")
    mods = {m: types.ModuleType(m) for m in _MODULES}

    class _State:
        def __getstate__(self):
            return dict(self.__dict__)

        def __setstate__(self, s):
            self.__dict__.update(s)

    classes = {"ContainerMetadata": "omegaconf.base", "Metadata": "omegaconf.base",
               "DictConfig": "omegaconf.dictconfig", "ListConfig": "omegaconf.listconfig", "AnyNode": "omegaconf.nodes"}
    made = {}
    for name, mod in classes.items():
        cls = type(name, (_State,), {})
        cls.__module__, cls.__qualname__ = mod, name
        setattr(mods[mod], name, cls)
        made[name] = cls

    def meta(cls_name, object_type, key_type=typing.Any):
        m = made[cls_name]()
        m.__dict__.update(ref_type=typing.Any, object_type=object_type, optional=True, key=None, flags={},
                          flags_root=False, resolver_cache=collections.defaultdict(dict), key_type=key_type,
                          element_type=typing.Any)
        return m

    def to_config(value, parent=None):
        if isinstance(value, dict):
            node = made["DictConfig"]()
            node.__dict__.update(_metadata=meta("ContainerMetadata", dict), _parent=parent)
            node._content = {k: to_config(v, node) for k, v in value.items()}
            return node
        if isinstance(value, list):
            node = made["ListConfig"]()
            node.__dict__.update(_metadata=meta("ContainerMetadata", list, int), _parent=parent)
            node._content = [to_config(v, node) for v in value]
            return node
        node = made["AnyNode"]()
        node.__dict__.update(_metadata=meta("Metadata", None), _parent=parent, _val=value)
        return node

    sys.modules.update(mods)
    try:
        yield to_config
    finally:
        for m in _MODULES:
            sys.modules.pop(m, None)


RELEASED_AE_CFG = {"model": {"embedding_dim": 8, "n_codes": 16384, "n_hiddens": 16, "lr": 3e-4,
                             "downsample": [4, 4, 4], "disc_channels": 64, "disc_layers": 3, "norm_type": "group",
                             "padding_type": "replicate", "num_groups": 32, "restart_thres": 1.0},
                   "dataset": {"image_channels": 1}}


def lightning_checkpoint(state_dict: dict, cfg: dict | None = None, extra: dict | None = None) -> dict:
    """A dict laid out like Lightning's ``dump_checkpoint`` of DiffTumor's VQGAN (pickle it inside
    :func:`fake_omegaconf`); a ``Counter`` and a non-empty ``defaultdict`` are inside."""
    with fake_omegaconf() as to_config:
        ck = {"epoch": 9, "global_step": 1234, "pytorch-lightning_version": "1.6.4", "state_dict": state_dict,
              "optimizer_states": [{"state": {}, "param_groups": [{"lr": 3e-4, "params": [0, 1]}]}],
              "lr_schedulers": [{"milestones": collections.Counter({50: 1, 80: 1}), "gamma": 0.1, "last_epoch": 9}],
              "loops": {"fit_loop": {"state_dict": collections.defaultdict(list, {"seen": [1, 2]})}},
              "callbacks": {"ModelCheckpoint": {"best_model_score": None}}, "native_amp_scaling_state": {"scale": 1024.0},
              "hparams_name": "kwargs", "hyper_parameters": {"cfg": to_config(cfg or RELEASED_AE_CFG)}}
        ck.update(extra or {})
        buf = io.BytesIO()
        torch.save(ck, buf)
    return buf.getvalue()


def old_numpy_spelling(raw: bytes) -> bytes:
    """Rewrite a torch zip checkpoint's pickle so the numpy scalar is spelled as NumPy 1.x wrote it."""
    zin = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"cnumpy._core.multiarray\nscalar\n", b"cnumpy.core.multiarray\nscalar\n")
            zout.writestr(info, data)
    return out.getvalue()
