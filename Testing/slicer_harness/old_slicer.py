"""Load the SynTumor modules the way an older Slicer (5.6/5.8: Python 3.9) does, and report what they show.

Run by Testing/test_slicer_harness_old_slicer.py with a Python 3.9 interpreter::

    python3.9 old_slicer.py SLICER_PYTHON_FOLDER SYNTUMOR_FOLDER 5.8.1

``SLICER_PYTHON_FOLDER`` holds Slicer's ``slicer/`` Python layer (ScriptedLoadableModule, util,
i18n); ``qt``/``ctk``/``vtk`` and ``slicer``'s C++ parts are stand-ins. For each module file: it is
loaded as Slicer loads it (its folder appended to ``sys.path``), the module class is instantiated,
then the widget class, and ``setup()`` is called. Prints one JSON line per module: the help text,
the panel's labels, whether SynTumorLib got imported, or the traceback if anything raised.
"""

import importlib.util
import json
import os
import sys
import traceback
import types

MODULES = ("SynTumorInsertion", "SynTumorLabelNoise", "SynTumorSegmentation")


def install(slicer_python: str, version: str) -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(here))
    from slicer_harness import standins

    sys.modules["qt"], sys.modules["ctk"] = standins.qt_module(), standins.ctk_module()
    vtk = types.ModuleType("vtk")
    vtk.vtkCommand = types.SimpleNamespace(ModifiedEvent=33)
    sys.modules["vtk"] = vtk
    slicer = types.ModuleType("slicer")
    slicer.__path__ = [os.path.join(slicer_python, "slicer")]  # Slicer's own Python layer
    major, minor, patch = (int(v) for v in version.split("."))

    class App:
        majorVersion, minorVersion, patchVersion = major, minor, patch
        applicationName = "Slicer"
        connections = []

        def translate(self, context, text):
            return text

        def connect(self, signal, slot):
            self.connections.append(signal)

        def moduleManager(self):
            return types.SimpleNamespace(connect=lambda *a: True)

        def testingEnabled(self):
            return False

    slicer.app = App()
    slicer.modules = types.SimpleNamespace()
    for cls in standins.SLICER_WIDGETS:
        setattr(slicer, cls.__name__, cls)
    sys.modules["slicer"] = slicer


def load(syntumor: str, module: str) -> dict:
    import slicer

    path = os.path.join(syntumor, module, module + ".py")
    sys.path.append(os.path.dirname(path))
    setattr(slicer.modules, module.lower(), types.SimpleNamespace(path=path))
    out = {"module": module}
    try:
        spec = importlib.util.spec_from_file_location(module, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[module] = mod
        spec.loader.exec_module(mod)
        parent = types.SimpleNamespace(path=path, title="", categories=[], dependencies=[], contributors=[],
                                       helpText="", acknowledgementText="")
        getattr(mod, module)(parent)
        out["helpText"] = parent.helpText
        panel = slicer.qMRMLWidget()
        panel.setLayout(sys.modules["qt"].QVBoxLayout())
        widget = getattr(mod, module + "Widget")(panel)
        widget.setup()
        out["labels"] = [c.text for c in panel.findChildren(sys.modules["qt"].QLabel)]
    except Exception:
        out["traceback"] = traceback.format_exc()
    out["libraryImported"] = any(m.split(".")[0] == "SynTumorLib" for m in sys.modules)
    return out


def main() -> int:
    slicer_python, syntumor, version = sys.argv[1:4]
    install(slicer_python, version)
    for module in MODULES:
        print(json.dumps(load(syntumor, module)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
