"""The SynTumorPhantom sample (CT + pancreas segmentation), generated on this machine — nothing is downloaded.

Slicer's Sample Data module loads a registered source in two ways: its button calls the source's
``customDownloader``, while ``SampleData.downloadSample(name)`` (scripts, tests, other modules)
ignores ``customDownloader`` and downloads the source's URIs into its cache, then loads the files.
So the source's URIs are ``syntumor://phantom/<file>`` and a URL rewrite rule (Sample Data's
``registerUrlRewriteRule``, consulted before every download) turns them into ``file://`` URLs of
files this module generates on first use; the button runs that same download inside an error
display, so a failure is shown instead of only being logged.
"""

from __future__ import annotations

import os
from pathlib import Path

PHANTOM_SAMPLE = "SynTumorPhantom"
CATEGORY = "SynTumor"
SCHEME = "syntumor://phantom/"
PHANTOM = {"seed": 0, "tumours": 0}  # generate_case arguments of the sample (the tests pass a small shape)


class PhantomSampleError(RuntimeError):
    """The phantom could not be generated or written (not a ValueError: Sample Data would retry it)."""


def phantomFileNames() -> dict[str, str]:
    """File name → Slicer file type. The library version is in the names, so Sample Data's cache
    never serves a phantom made by another version."""
    from SynTumorLib import __version__

    base = f"{PHANTOM_SAMPLE}-{__version__}"
    return {f"{base}.nrrd": "VolumeFile", f"{base}.seg.nrrd": "SegmentationFile"}


def phantomFolder() -> Path:
    """Where generated phantom files are kept (Slicer's cache folder, else the system's temp folder)."""
    import tempfile

    try:
        import slicer

        base = slicer.app.cachePath
    except (ImportError, AttributeError):
        base = tempfile.gettempdir()
    return Path(base) / "SynTumor"


def writePhantomFiles(folder: Path) -> dict[str, Path]:
    """Generate the phantom and write its CT and segmentation into ``folder`` (atomically)."""
    import slicer

    from SynTumorLib.data.io import write_volume
    from SynTumorLib.data.phantom import generate_case
    from SynTumorLib.mrml import register_node_classes, segmentation_from_labelmap
    from SynTumorLib.utils.atomic import atomic_path

    names = list(phantomFileNames())
    paths = {name: folder / name for name in names}
    image, label, _info = generate_case(**PHANTOM)
    write_volume(image, paths[names[0]], compress=True)
    scene = slicer.vtkMRMLScene()  # a private scene: the segmentation is only written, never shown
    register_node_classes(scene)
    segmentation = segmentation_from_labelmap(scene, label, PHANTOM_SAMPLE + " segmentation")
    storage = slicer.vtkMRMLSegmentationStorageNode()
    scene.AddNode(storage)
    with atomic_path(paths[names[1]]) as tmp:
        storage.SetFileName(str(tmp))
        if not storage.WriteData(segmentation):
            raise PhantomSampleError(f"could not write the phantom segmentation to {tmp}")
    return paths


def rewritePhantomUrl(url: str) -> str:
    """Sample Data URL rewrite rule: ``syntumor://phantom/<file>`` → ``file://`` URL of that file,
    generating the phantom the first time; any other URL is returned unchanged."""
    if not url.startswith(SCHEME):
        return url
    name = url[len(SCHEME):]
    if name not in phantomFileNames():
        raise PhantomSampleError(f"unknown SynTumor sample file {url!r} (this SynTumor makes "
                                 f"{', '.join(phantomFileNames())})")
    folder = phantomFolder()
    path = folder / name
    if not path.is_file():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            writePhantomFiles(folder)
        except PhantomSampleError:
            raise
        except Exception as e:  # anything the generator or the writers raise: say what failed
            raise PhantomSampleError(f"could not generate the SynTumor phantom in {folder}: {e}") from e
    return path.resolve().as_uri()


def downloadPhantom(source):
    """The Sample Data button: the same download ``SampleData.downloadSample`` does, with errors shown."""
    import SampleData
    import slicer

    try:
        with slicer.util.tryWithErrorDisplay("Could not load the SynTumor phantom.", waitCursor=True):
            nodes = SampleData.SampleDataLogic().downloadFromSource(source)
            if not nodes or isinstance(nodes[0], str):
                raise PhantomSampleError("the phantom files were generated but could not be loaded (see the log)")
    except Exception:  # already shown to the user
        return []
    slicer.util.setSliceViewerLayers(background=nodes[0], fit=True)
    return nodes


def registerPhantomSample(thumbnail: str | os.PathLike | None = None) -> None:
    """Offer the phantom in Sample Data (call once the application has started)."""
    import SampleData

    logic = SampleData.SampleDataLogic
    logic.registerUrlRewriteRule("SynTumorPhantom", rewritePhantomUrl)
    if hasattr(logic, "registerCustomSampleDataCategory"):  # Slicer 5.12+
        logic.registerCustomSampleDataCategory(CATEGORY, title=CATEGORY)
    names = phantomFileNames()
    logic.registerCustomSampleDataSource(
        category=CATEGORY,
        sampleName=PHANTOM_SAMPLE,
        uris=[SCHEME + name for name in names],
        fileNames=list(names),
        nodeNames=[PHANTOM_SAMPLE, PHANTOM_SAMPLE + " segmentation"],
        loadFileTypes=list(names.values()),
        thumbnailFileName=None if thumbnail is None else os.fspath(thumbnail),
        customDownloader=downloadPhantom,
    )
