"""A stand-in ``qt.QUiLoader`` (and ``qt.QFile``): builds a panel of stand-in widgets from a ``.ui`` file.

Slicer's ``slicer.util.loadUI`` opens the file with ``qt.QFile`` and calls ``qt.QUiLoader().load``;
with these stand-ins the real ``loadUI`` / ``childWidgetVariables`` run unchanged. Widgets get the
``.ui``'s class (from the namespace PythonQt puts it in: ``qt``, ``ctk`` or ``slicer``), name and
properties — dynamic ones such as ``SlicerParameterName`` too — and the ``<connections>`` are
wired, e.g. the panel's ``mrmlSceneChanged(vtkMRMLScene*)`` to each selector's ``setMRMLScene``.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

from . import standins


def _value(prop: ET.Element):
    """The Python value of a .ui ``<property>`` element."""
    child = next(iter(prop), None)
    if child is None:
        return None
    tag, text = child.tag, (child.text or "")
    if tag == "string":
        return text
    if tag == "bool":
        return text.strip().lower() == "true"
    if tag == "number":
        return int(text)
    if tag == "double":
        return float(text)
    if tag == "stringlist":
        return [s.text or "" for s in child.findall("string")]
    if tag in ("set", "enum", "cstring"):
        return text
    return {c.tag: c.text for c in child}  # rect, size, …


class QFile:
    ReadOnly = 1

    def __init__(self, path) -> None:
        self.path = os.fspath(path)

    def exists(self) -> bool:
        return os.path.isfile(self.path)

    def open(self, mode) -> bool:
        return self.exists()

    def remove(self) -> bool:
        try:
            os.remove(self.path)
            return True
        except OSError:
            return False


class QUiLoader:
    """Builds the widget tree of a .ui file out of stand-in classes."""

    def __init__(self, qt=None, ctk=None, slicer_module=None) -> None:
        import sys

        self.qt = qt or sys.modules["qt"]
        self.ctk = ctk or sys.modules["ctk"]
        if slicer_module is None:
            import slicer as slicer_module
        self.slicer = slicer_module

    def load(self, qfile, parent=None):
        root = ET.parse(qfile.path).getroot()
        named: dict[str, standins.QObject] = {}
        top = self._widget(root.find("widget"), parent, named)
        for c in root.iter("connection"):
            sender, receiver = named[c.findtext("sender")], named[c.findtext("receiver")]
            slot = getattr(receiver, c.findtext("slot").split("(")[0])
            sender.connect(c.findtext("signal"), slot)
        return top

    def _widget(self, element: ET.Element, parent, named: dict):
        cls = standins.class_for(self.qt, self.ctk, self.slicer, element.get("class"))
        widget = cls(parent)
        widget.objectName = element.get("name", "")
        named[widget.objectName] = widget
        for prop in element.findall("property"):
            widget.setProperty(prop.get("name"), _value(prop))
        for child in element:
            if child.tag == "layout":
                widget.setLayout(self._layout(child, widget, named))
            elif child.tag == "widget":
                self._widget(child, widget, named)
        return widget

    def _layout(self, element: ET.Element, owner, named: dict):
        layout = standins.class_for(self.qt, self.ctk, self.slicer, element.get("class"))()
        layout.objectName = element.get("name", "")
        object.__setattr__(layout, "_owner", owner)
        for prop in element.findall("property"):
            layout.setProperty(prop.get("name"), _value(prop))
        for item in element.findall("item"):
            for child in item:
                if child.tag == "widget":
                    layout.addWidget(self._widget(child, owner, named))
                elif child.tag == "layout":
                    layout.addLayout(self._layout(child, owner, named))
                elif child.tag == "spacer":
                    layout.addStretch(1)
        return layout
