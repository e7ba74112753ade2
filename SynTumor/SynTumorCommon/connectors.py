"""A parameterNodeWrapper GUI connector for *optional* paths (``Optional[pathlib.Path]``).

Slicer's own ``ctkPathLineEditToPathConnector`` binds a ``pathlib.Path`` field, whose default is
``Path()``; ``str(Path())`` is ``"."``, which the line edit then shows for a field nobody filled in
(AUDIT D11). A ``pathlib.Path | None`` field defaults to ``None`` (``UnionSerializer`` treats
``Optional[X]`` so); this connector shows ``None`` as an empty line edit and reads an empty line edit
back as ``None``, so "not set" looks empty and means ``None`` everywhere.

Importing this module registers the connector with the running Slicer's ``parameterNodeWrapper``
(``parameterNodeGuiConnector`` is public API there); the panels import it before ``connectGui``.
"""

from __future__ import annotations

import pathlib
import types
import typing

import ctk
from slicer.parameterNodeWrapper import GuiConnector, parameterNodeGuiConnector, unannotatedType

PATH_TYPES = (pathlib.Path, pathlib.PosixPath, pathlib.WindowsPath,
              pathlib.PurePath, pathlib.PurePosixPath, pathlib.PureWindowsPath)


def optionalPathType(datatype):
    """The path class of ``Optional[<path class>]`` (annotations allowed), else None."""
    t = unannotatedType(datatype)
    if typing.get_origin(t) not in (typing.Union, getattr(types, "UnionType", typing.Union)):
        return None
    args = [unannotatedType(a) for a in typing.get_args(t)]
    paths = [a for a in args if a in PATH_TYPES]
    if len(args) == 2 and len(paths) == 1 and type(None) in args:
        return paths[0]
    return None


@parameterNodeGuiConnector
class ctkPathLineEditToOptionalPathConnector(GuiConnector):
    """``ctkPathLineEdit`` ⇄ ``Optional[Path]``: empty text is ``None``."""

    @staticmethod
    def canRepresent(widget, datatype) -> bool:
        return type(widget) is ctk.ctkPathLineEdit and optionalPathType(datatype) is not None

    @staticmethod
    def create(widget, datatype):
        if ctkPathLineEditToOptionalPathConnector.canRepresent(widget, datatype):
            return ctkPathLineEditToOptionalPathConnector(widget, datatype)
        return None

    def __init__(self, widget, datatype) -> None:
        super().__init__()
        self._widget = widget
        self._type = optionalPathType(datatype)

    def _connect(self) -> None:
        self._widget.currentPathChanged.connect(self.changed)

    def _disconnect(self) -> None:
        self._widget.currentPathChanged.disconnect(self.changed)

    def widget(self):
        return self._widget

    def read(self):
        text = self._widget.currentPath
        return self._type(text) if text and text.strip() else None

    def write(self, value) -> None:
        text = "" if value is None else str(value)
        if self._widget.currentPath != text:  # rewriting the same text would move the cursor
            self._widget.currentPath = text
