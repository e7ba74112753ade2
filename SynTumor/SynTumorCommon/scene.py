"""The MRML scene a Qt-free SynTumor logic works on."""

from __future__ import annotations


class SceneLogic:
    """Logic that works on an MRML scene: ``scene`` (given), else ``slicer.mrmlScene`` (the application's).

    The panels' logics derive from it, so they run unchanged in the application, in ``PythonSlicer``
    and on the Qt-free ``slicer-core`` wheel (the tests pass a scene of their own).
    """

    def __init__(self, scene=None) -> None:
        self._scene = scene

    @property
    def scene(self):
        if self._scene is not None:
            return self._scene
        import slicer

        from SynTumorLib.utils.errors import InputError

        scene = getattr(slicer, "mrmlScene", None)
        if scene is None:
            raise InputError(f"no MRML scene: pass one to {type(self).__name__}(scene) outside the Slicer application")
        return scene
