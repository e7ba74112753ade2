"""The dataset adapters behind :func:`SynTumorLib.data.datasets.open_dataset`: one small class per
source layout, each with ``scan(root) -> Dataset`` and ``detect(root) -> bool`` (cheap: file names
only, nothing is read).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..utils.errors import InputError
from ..utils.jsonio import read_json
from ..utils.paths import case_id_from_path, is_hidden
from .cases import Case, Dataset
from .integrity import looks_dicom
from .io import is_volume_file, list_volume_files
from .labels import BACKGROUND, canonical_value


def label_map_from_names(labels: dict, source: Path) -> tuple[dict[int, int], str | None]:
    """MSD/nnU-Net ``labels`` (value→name or name→value) to (source value → canonical value, the
    problem with names that are neither pancreas nor tumour, or None)."""
    pairs = []
    for k, v in labels.items():
        value, name = (k, v) if str(k).lstrip("-").isdigit() else (v, k)
        if isinstance(value, (list, tuple)):
            raise InputError(f"{source}: region-based labels ({name}: {value}) are not supported")
        pairs.append((int(value), str(name).strip().lower()))
    out, unknown = {}, []
    for value, name in pairs:
        canonical = BACKGROUND if value == 0 else canonical_value(name)
        if canonical is None:
            unknown.append(f"label {value} is {name!r}")
        else:
            out[value] = canonical
    out.setdefault(0, 0)
    problem = None
    if unknown:
        problem = (f"{source}: {', '.join(unknown)}, neither pancreas nor tumour; "
                   "give the pancreas/tumour label values explicitly")
    return out, problem


# ---------------------------------------------------------------------------------------- dataset.json layouts
def _json_has(path: Path, key: str) -> bool:
    if not path.is_file():
        return False
    try:
        meta = read_json(path)
    except InputError:
        return False
    return isinstance(meta, dict) and key in meta


class _DatasetJsonLayout(Dataset):
    """A layout described by ``dataset.json`` (MSD, nnU-Net): recognised by one key of it, labels
    mapped by name. Subclasses set ``META_KEY`` and ``DEFAULT_LABELS`` and list the cases."""

    META_KEY = ""
    DEFAULT_LABELS: dict = {}

    @classmethod
    def detect(cls, root: Path) -> bool:
        return _json_has(root / "dataset.json", cls.META_KEY)

    @classmethod
    def scan(cls, root: Path) -> Dataset:
        meta_path = root / "dataset.json"
        meta = read_json(meta_path)
        if not isinstance(meta, dict) or cls.META_KEY not in meta:
            raise InputError(f"{meta_path}: not a {cls.kind!r} dataset.json (no {cls.META_KEY!r} entry)")
        labels = meta.get("labels") or cls.DEFAULT_LABELS
        if not isinstance(labels, dict):
            raise InputError(f"{meta_path}: 'labels' must be an object mapping values to names, got {type(labels).__name__}")
        label_map, problem = label_map_from_names(labels, meta_path)
        cases, tests = cls.list_cases(root, meta, meta_path)
        ds = cls(root, cases, label_map, test_cases=tests)
        ds.label_problem = problem
        return ds

    @classmethod
    def list_cases(cls, root: Path, meta: dict, meta_path: Path) -> tuple[list[Case], list[Case]]:
        """(training cases, test cases) listed by ``meta``."""
        raise NotImplementedError


class MSDDataset(_DatasetJsonLayout):
    """MSD layout (Task07 and every dataset SynTumor writes): ``dataset.json`` ``training`` entries."""

    kind = "msd"
    META_KEY = "training"
    DEFAULT_LABELS = {"0": "background", "1": "pancreas", "2": "cancer"}

    @classmethod
    def list_cases(cls, root: Path, meta: dict, meta_path: Path) -> tuple[list[Case], list[Case]]:
        def entry_case(entry, where: str) -> Case:
            # Task07 lists training cases as {"image", "label"} and test cases as plain paths
            rel = entry.get("image") if isinstance(entry, dict) else entry
            if not isinstance(rel, str):
                raise InputError(f"{meta_path}: {where} has no image path")
            image = (root / rel).resolve()  # absolute paths stay absolute under "/"
            label = entry.get("label") if isinstance(entry, dict) else None
            if label is not None and not isinstance(label, str):
                raise InputError(f"{meta_path}: {where} has a label that is not a path ({label!r})")
            return Case(case_id_from_path(image.name), image, None if label is None else (root / label).resolve())

        for key in ("training", "test"):
            if not isinstance(meta.get(key) or [], list):
                raise InputError(f"{meta_path}: '{key}' must be a list of cases, got {type(meta[key]).__name__}")
        cases = [entry_case(e, f"training entry {i}") for i, e in enumerate(meta["training"] or [])]
        tests = [entry_case(e, f"test entry {i}") for i, e in enumerate(meta.get("test") or [])]
        return cases, tests


class NnUNetDataset(_DatasetJsonLayout):
    """nnU-Net v2 raw folder (``DatasetNNN_Name``): one CT channel ``_0000``, labels by name."""

    kind = "nnunet"
    META_KEY = "channel_names"

    @classmethod
    def list_cases(cls, root: Path, meta: dict, meta_path: Path) -> tuple[list[Case], list[Case]]:
        channels = meta["channel_names"]
        if not isinstance(channels, dict) or not isinstance(meta.get("file_ending", ".nii.gz"), str):
            raise InputError(f"{meta_path}: 'channel_names' must be an object and 'file_ending' a string")
        if len(channels) != 1:
            raise InputError(f"{meta_path}: {len(channels)} input channels; only single-channel CT is supported")
        ending = meta.get("file_ending", ".nii.gz")

        def listing(images: str, labels: str) -> list[Case]:
            out = []
            for p in sorted((root / images).glob(f"*_0000{ending}")):
                if is_hidden(p):
                    continue
                cid = p.name[: -len(f"_0000{ending}")]
                lab = root / labels / f"{cid}{ending}"
                out.append(Case(cid, p, lab if lab.exists() else None))
            return out

        return listing("imagesTr", "labelsTr"), listing("imagesTs", "labelsTs")


# ---------------------------------------------------------------------------------------- BTCV
_BTCV_IMG = re.compile(r"^img(\d+)$", re.IGNORECASE)


# Synapse's RawData.zip uses img/ + label/; MONAI's BTCV copy uses imagesTr/ + labelsTr/
BTCV_DIRS = {"img": "label", "imagesTr": "labelsTr", "imagesTs": "labelsTs", "images": "labels"}


def _btcv_img_dirs(root: Path) -> list[Path]:
    candidates = [root / name for name in BTCV_DIRS]
    candidates += [d for name in BTCV_DIRS for d in (*root.glob(f"*/{name}"), *root.glob(f"*/*/{name}"))]
    return [d for d in candidates if d.is_dir() and any(_BTCV_IMG.match(case_id_from_path(p.name)) for p in list_volume_files(d))]


class BTCVDataset(Dataset):
    """BTCV (Synapse multi-organ): ``img/img0001.nii.gz`` + ``label/label0001.nii.gz`` (or MONAI's
    ``imagesTr/`` + ``labelsTr/`` copy); pancreas 11, the other 12 organs become background. Images
    without a label file are unlabelled cases."""

    kind = "btcv"
    PANCREAS = 11

    @staticmethod
    def detect(root: Path) -> bool:
        return bool(_btcv_img_dirs(root))

    @classmethod
    def scan(cls, root: Path) -> Dataset:
        cases = []
        for d in _btcv_img_dirs(root):
            labels = {case_id_from_path(p.name).lower(): p for p in list_volume_files(d.parent / BTCV_DIRS[d.name])}
            for p in list_volume_files(d):
                m = _BTCV_IMG.match(case_id_from_path(p.name))
                if m:
                    cases.append(Case(f"img{m.group(1)}", p, labels.get(f"label{m.group(1)}")))
        return cls(root, cases, {0: 0, cls.PANCREAS: 1}, others_to_background=True)


# ---------------------------------------------------------------------------------------- NIH
_NIH_CASE = re.compile(r"pancreas[_-]?(\d+)", re.IGNORECASE)
_NIH_LABEL = re.compile(r"^label(\d+)$", re.IGNORECASE)


def _dicom_folders(root: Path) -> list[Path]:
    """Folders holding DICOM files (checked on the first file only, to stay fast on 19,000 slices)."""
    out = []
    for d in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        files = sorted(p for p in d.iterdir() if p.is_file() and not is_hidden(p))
        if len(files) >= 2 and looks_dicom(files[0]):
            out.append(d)
    return out


class NIHDataset(Dataset):
    """NIH Pancreas-CT (TCIA): DICOM series under ``PANCREAS_0001/…`` (any depth) and label files
    ``label0001.nii.gz`` anywhere below the root; pancreas 1. Image-only cases are kept unlabelled.
    NIfTI images named ``PANCREAS_0001.nii.gz`` are accepted in place of DICOM folders.
    """

    kind = "nih"

    @staticmethod
    def detect(root: Path) -> bool:
        has_labels = any(_NIH_LABEL.match(case_id_from_path(p.name)) for p in root.rglob("label*.nii*"))
        has_cases = any(_NIH_CASE.search(p.name) for p in root.rglob("*") if not is_hidden(p))
        return has_labels and has_cases

    @classmethod
    def scan(cls, root: Path) -> Dataset:
        labels = {}
        for p in root.rglob("label*.nii*"):
            m = _NIH_LABEL.match(case_id_from_path(p.name))
            if m:
                labels[int(m.group(1))] = p
        images: dict[int, Path] = {}
        for d in _dicom_folders(root):
            # TCIA nests PANCREAS_0001/<study "…PANCREAS0001-Pancreas-18957">/<series "Pancreas-99667">:
            # the patient folder (a whole-name match, nearest the root) is the case
            parts = d.relative_to(root.parent).parts
            m = next((m for part in parts if (m := _NIH_CASE.fullmatch(part))), None)
            if m:
                n = int(m.group(1))
                if n in images:
                    raise InputError(f"{d}: case PANCREAS_{n:04d} has several DICOM series ({images[n]} too)")
                images[n] = d
        for p in root.rglob("*"):
            m = _NIH_CASE.fullmatch(case_id_from_path(p.name)) if p.is_file() and is_volume_file(p) else None
            if m and int(m.group(1)) not in images:
                images[int(m.group(1))] = p
        cases = [Case(f"PANCREAS_{n:04d}", p, labels.get(n)) for n, p in images.items()]
        return cls(root, cases, {0: 0, 1: 1})


# ---------------------------------------------------------------------------------------- TotalSegmentator
TOTALSEG_MULTILABEL = ("seg_multilabel", "segmentations", "seg")


def _totalseg_label(folder: Path) -> tuple[Path | None, bool]:
    """(label file, is_multilabel) for one TotalSegmentator case folder."""
    for stem in TOTALSEG_MULTILABEL:
        for suf in (".nii.gz", ".nii"):
            if (folder / f"{stem}{suf}").is_file():
                return folder / f"{stem}{suf}", True
    single = folder / "segmentations" / "pancreas.nii.gz"
    return (single, False) if single.is_file() else (None, True)


class TotalSegDataset(Dataset):
    """TotalSegmentator output: ``ct.nii.gz`` + a multilabel map (pancreas 7 in v2; other classes →
    background) or ``segmentations/pancreas.nii.gz`` (binary), in the root or one folder per case.
    """

    kind = "totalseg"
    PANCREAS = 7

    @staticmethod
    def detect(root: Path) -> bool:
        return (root / "ct.nii.gz").is_file() or any((d / "ct.nii.gz").is_file() for d in root.iterdir() if d.is_dir())

    @classmethod
    def scan(cls, root: Path) -> Dataset:
        folders = [root] if (root / "ct.nii.gz").is_file() else sorted(d for d in root.iterdir() if (d / "ct.nii.gz").is_file())
        cases, maps = [], {}
        for d in folders:
            label, multi = _totalseg_label(d)
            case = Case(d.name, d / "ct.nii.gz", label)
            cases.append(case)
            if label is not None and not multi:
                maps[case.case_id] = {0: 0, 1: 1}
        return cls(root, cases, {0: 0, cls.PANCREAS: 1}, others_to_background=True, case_label_maps=maps)

    def others_to_background_for(self, case: Case) -> bool:
        # binary per-structure masks are strict 0/1; the multilabel map may hold any of ~117 classes
        return self.others_to_background and case.case_id not in self._case_label_maps


# ---------------------------------------------------------------------------------------- plain folder
FOLDER_PAIRS = (("images", "labels"), ("imagesTr", "labelsTr"), ("image", "label"))
LABEL_SUFFIXES = ("_label", "_labels", "_seg", "_mask")


def _match_label(stem: str, labels: dict[str, Path]) -> Path | None:
    for key in (stem, stem.removesuffix("_0000"), *(stem + s for s in LABEL_SUFFIXES)):
        if key in labels:
            return labels[key]
    return None


class FolderDataset(Dataset):
    """A plain folder: ``images/`` + ``labels/`` (also ``imagesTr/labelsTr``, ``image/label``) with
    matching names, or pairs ``<id>.nii.gz`` + ``<id>_label|_seg|_mask.nii.gz`` side by side.
    Labels 1 pancreas / 2 tumour unless other values are given to :func:`open_dataset`.
    """

    kind = "folder"

    @staticmethod
    def detect(root: Path) -> bool:
        return any((root / a).is_dir() for a, _ in FOLDER_PAIRS) or bool(list_volume_files(root))

    @classmethod
    def scan(cls, root: Path) -> Dataset:
        cases = []
        pair = next(((root / a, root / b) for a, b in FOLDER_PAIRS if (root / a).is_dir()), None)
        if pair is not None:
            labels = {case_id_from_path(p.name): p for p in list_volume_files(pair[1])}
            for p in list_volume_files(pair[0]):
                stem = case_id_from_path(p.name)
                cases.append(Case(stem.removesuffix("_0000"), p, _match_label(stem, labels)))
        else:
            files = {case_id_from_path(p.name): p for p in list_volume_files(root)}
            label_stems = {s for s in files if s.endswith(LABEL_SUFFIXES)}
            for stem, p in files.items():
                if stem not in label_stems:
                    cases.append(Case(stem, p, _match_label(stem, {s: files[s] for s in label_stems})))
        return cls(root, cases, {0: 0, 1: 1, 2: 2})


ADAPTERS: dict[str, type[Dataset]] = {
    "nnunet": NnUNetDataset,
    "msd": MSDDataset,
    "btcv": BTCVDataset,
    "nih": NIHDataset,
    "totalseg": TotalSegDataset,
    "folder": FolderDataset,
}


def _check_dataset_json(root: Path) -> None:
    """A ``dataset.json`` that is neither MSD nor nnU-Net is an error, not a silent fall-back to the
    folder layout (a truncated or hand-edited file would otherwise give other cases and labels)."""
    path = root / "dataset.json"
    if not path.exists():
        return
    hint = "fix it, or pass --kind to choose the layout (e.g. --kind folder to ignore it)"
    try:
        meta = read_json(path)
    except InputError as e:
        raise InputError(f"{e}; {hint}") from None
    if not isinstance(meta, dict):
        raise InputError(f"{path}: expected a JSON object, got a {type(meta).__name__}; {hint}")
    if not any(a.META_KEY in meta for a in (MSDDataset, NnUNetDataset)):
        raise InputError(f"{path}: neither an MSD ('training') nor an nnU-Net ('channel_names') dataset.json; {hint}")


def detect_kind(root: Path) -> str:
    """The first adapter whose ``detect`` accepts ``root`` (the order of :data:`ADAPTERS`).

    Raises:
        InputError: no layout matches, or ``dataset.json`` exists but is invalid (no silent fall-back).
    """
    _check_dataset_json(root)
    for kind, adapter in ADAPTERS.items():
        if adapter.detect(root):  # type: ignore[attr-defined]
            return kind
    raise InputError(
        f"{root}: no supported dataset layout found (looked for an MSD or nnU-Net dataset.json, BTCV img/ "
        "+ label/, NIH PANCREAS_XXXX DICOM + labelXXXX.nii.gz, TotalSegmentator ct.nii.gz + segmentation, "
        "or images/ + labels/ folders); use --kind to choose one"
    )
