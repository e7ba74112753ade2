"""``slicer_release(version)``: one Slicer release's own Python layer, imported over slicer-core.

Inside the context, ``slicer.util``, ``slicer.i18n``, ``slicer.parameterNodeWrapper``,
``slicer.ScriptedLoadableModule`` (and ``slicer.packaging`` on 5.12) are that release's files,
``import SampleData`` gets its Sample Data module, ``qt`` / ``ctk`` are the stand-ins, Slicer's widget
classes are set on ``slicer``, and ``slicer.app`` / ``slicer.mrmlScene`` / ``slicer.modules`` exist.
SynTumor's module files and packages imported inside are fresh and are forgotten afterwards, so the
two releases never share a registry (serializers, GUI connectors). Everything is restored on exit.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path

from . import SYNTUMOR, standins, uifile
from .sources import release_dir

_FRESH = ("slicer.", "SampleData", "SynTumorCommon", "SynTumorInsertion", "SynTumorLabelNoise",
          "SynTumorSegmentation")
_ATTRIBUTES = ("util", "i18n", "parameterNodeWrapper", "ScriptedLoadableModule", "packaging", "app", "mrmlScene",
               "modules", "selfTests", *(c.__name__ for c in standins.SLICER_WIDGETS))


def _fresh(name: str) -> bool:
    """Modules imported per release: Slicer's Python layer, the stand-ins and SynTumor's Slicer side."""
    if name == "slicer.slicer_core":
        return False
    return name in ("qt", "ctk") or name.startswith(_FRESH)


class _ModuleManager:
    def connect(self, *args) -> bool:
        return True

    def disconnect(self, *args) -> bool:
        return True


class IOManager:
    """``slicer.app.coreIOManager()``: reads volumes and segmentations with slicer-core's storage nodes."""

    READERS = {"VolumeFile": ("vtkMRMLScalarVolumeNode", "vtkMRMLVolumeArchetypeStorageNode"),
               "SegmentationFile": ("vtkMRMLSegmentationNode", "vtkMRMLSegmentationStorageNode")}

    def __init__(self, scene) -> None:
        self.scene = scene

    def fileType(self, path: str) -> str:
        return "SegmentationFile" if path.endswith(".seg.nrrd") else "VolumeFile"

    def loadNodes(self, fileType, properties, loadedNodes) -> bool:
        if fileType not in self.READERS:
            return False
        nodeClass, storageClass = self.READERS[fileType]
        node = self.scene.AddNewNodeByClass(nodeClass, properties.get("name") or Path(properties["fileName"]).stem)
        storage = self.scene.AddNewNodeByClass(storageClass)
        storage.SetFileName(properties["fileName"])
        node.SetAndObserveStorageNodeID(storage.GetID())
        if not storage.ReadData(node):
            self.scene.RemoveNode(node)
            self.scene.RemoveNode(storage)
            return False
        loadedNodes.AddItem(node)
        return True


@dataclass
class App:
    """``slicer.app`` of a Slicer ``version`` without a main window."""

    version: str
    folder: Path
    scene: object
    testing: bool = False
    connections: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.majorVersion, self.minorVersion, self.patchVersion = (int(v) for v in self.version.split("."))
        self.applicationVersion = self.version
        self.applicationName = "Slicer"
        self.applicationDirPath = os.path.dirname(sys.executable)
        self.cachePath = str(self.folder / "cache")
        self.temporaryPath = str(self.folder / "tmp")
        self._io = IOManager(self.scene)

    def translate(self, context, text):
        return text

    def connect(self, signal, slot) -> bool:
        self.connections.append((signal, slot))
        return True

    def moduleManager(self):
        return _ModuleManager()

    def testingEnabled(self) -> bool:
        return self.testing

    def commandOptions(self):
        return types.SimpleNamespace(noMainWindow=True, testingEnabled=self.testing)

    def topLevelWidgets(self) -> list:
        return []

    def setOverrideCursor(self, cursor) -> None:
        pass

    def restoreOverrideCursor(self) -> None:
        pass

    def processEvents(self) -> None:
        try:
            from PySide6.QtCore import QCoreApplication
        except ImportError:
            return
        if QCoreApplication.instance() is not None:
            QCoreApplication.processEvents()

    def coreIOManager(self):
        return self._io


@dataclass
class Release:
    """What :func:`slicer_release` hands out."""

    version: str
    slicer: types.ModuleType
    scene: object
    app: App
    folder: Path

    def import_module_file(self, module: str) -> types.ModuleType:
        """Load ``SynTumor/<module>/<module>.py`` the way Slicer loads a scripted module: its folder
        appended to ``sys.path``, the file executed as module ``<module>``."""
        path = SYNTUMOR / module / f"{module}.py"
        if str(path.parent) not in sys.path:
            sys.path.append(str(path.parent))
        spec = importlib.util.spec_from_file_location(module, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[module] = mod
        spec.loader.exec_module(mod)
        setattr(self.slicer.modules, module.lower(), types.SimpleNamespace(path=str(path), name=module))
        return mod

    def parameter_class(self, module: str):
        """The module's real ``@parameterNodeWrapper`` class, processed by this release's wrapper."""
        return getattr(importlib.import_module(f"{module}Lib.parameters"), f"{module}ParameterNode")

    def module_parent(self, module: str):
        """What Slicer hands a scripted module's class: its metadata is set on it."""
        return types.SimpleNamespace(path=str(SYNTUMOR / module / f"{module}.py"), title="", categories=[],
                                     dependencies=[], contributors=[], helpText="", acknowledgementText="",
                                     icon=None, hidden=False)

    def panel_parent(self):
        """A qMRMLWidget with a vertical layout: what Slicer gives a module's widget class."""
        parent = self.slicer.qMRMLWidget()
        parent.setLayout(sys.modules["qt"].QVBoxLayout())
        object.__setattr__(parent, "isEntered", True)
        return parent


def new_scene():
    """A bare MRML scene with the node classes the panels use (the application registers them)."""
    import slicer

    from SynTumorLib.mrml import register_node_classes

    scene = slicer.vtkMRMLScene()
    register_node_classes(scene)
    if not scene.IsNodeClassRegistered("vtkMRMLScriptedModuleNode"):
        scene.RegisterNodeClass(slicer.vtkMRMLScriptedModuleNode())
    cache = slicer.vtkCacheManager() if hasattr(slicer, "vtkCacheManager") else None
    if cache is not None:
        scene.SetCacheManager(cache)
    return scene


@contextlib.contextmanager
def slicer_release(version: str, folder: Path | None = None, testing: bool = False):
    """Import Slicer ``version``'s Python layer over slicer-core for the duration of the block."""
    import slicer

    source = release_dir(version)
    saved_modules = dict(sys.modules)
    saved_path, saved_sys_path = list(slicer.__path__), list(sys.path)
    saved_attrs = {name: getattr(slicer, name) for name in _ATTRIBUTES if name in slicer.__dict__}
    own_folder = folder is None
    folder = Path(tempfile.mkdtemp(prefix=f"slicer-{version}-")) if own_folder else Path(folder)
    try:
        for name in list(sys.modules):
            if _fresh(name):
                del sys.modules[name]
        qt = standins.qt_module()
        qt.QUiLoader, qt.QFile = uifile.QUiLoader, uifile.QFile
        sys.modules["qt"], sys.modules["ctk"] = qt, standins.ctk_module()
        slicer.__path__.insert(0, str(source / "slicer"))
        sys.path.insert(0, str(source / "SampleData"))
        for cls in standins.SLICER_WIDGETS:
            setattr(slicer, cls.__name__, cls)
        scene = new_scene()
        app = App(version, folder, scene, testing=testing)
        if scene.GetCacheManager() is not None:
            scene.GetCacheManager().SetRemoteCacheDirectory(str(folder / "sample-data"))
        slicer.mrmlScene, slicer.app, slicer.modules = scene, app, types.SimpleNamespace()
        import slicer.util  # noqa: F401  (this release's)

        yield Release(version, slicer, scene, app, folder)
    finally:
        for name in list(sys.modules):  # forget what this release imported (third-party packages stay)
            if _fresh(name) and name not in saved_modules:
                del sys.modules[name]
        sys.modules.update({k: v for k, v in saved_modules.items() if _fresh(k)})
        slicer.__path__[:] = saved_path
        sys.path[:] = saved_sys_path
        for name in _ATTRIBUTES:
            if name in saved_attrs:
                setattr(slicer, name, saved_attrs[name])
            elif name in slicer.__dict__:
                delattr(slicer, name)
        if own_folder:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
