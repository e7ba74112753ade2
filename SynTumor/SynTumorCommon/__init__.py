"""SynTumorCommon — the Slicer-side code the SynTumor modules share (not a module itself).

* ``compat``: which Slicer this extension supports, and the message an older Slicer shows;
* ``widget_base``: the panels' parameter-node life cycle and background-job plumbing;
* ``connectors``: a parameterNodeWrapper GUI connector for optional paths;
* ``dependencies``: first-use installation (PyTorch through the PyTorch extension, the rest by pip);
* ``scene``: the scene a Qt-free logic works on;
* ``worker`` / ``worker_main``: long work in a separate process with progress and cancel.

An installed extension packages this folder and ``SynTumorLib`` beside the modules in
``qt-scripted-modules`` (on ``sys.path``). In a development checkout only the module folders are on
``sys.path`` (Slicer appends each scripted module's folder); the module files put ``SynTumor/`` there
and this file puts the repository root (which holds ``SynTumorLib``) there.

Everything imported by a module file at load time (this file, ``compat``, ``widget_base``) must run
on the Python 3.9 of Slicer 5.6/5.8, so that an old Slicer can say what it needs instead of failing
with a traceback.
"""

import importlib.util
import os
import sys

_REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if importlib.util.find_spec("SynTumorLib") is None and os.path.isfile(
        os.path.join(_REPOSITORY, "SynTumorLib", "__init__.py")):
    sys.path.insert(0, _REPOSITORY)
