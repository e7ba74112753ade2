"""Stand-ins for what only the Slicer application provides: the ``qt`` and ``ctk`` modules, Slicer's
widget classes and ``slicer.app``.

Widgets model the behaviour Slicer's GUI connectors and the SynTumor panels rely on — Qt properties
as attributes (PythonQt style), their ``set…`` methods, signals connected new-style
(``w.valueChanged.connect``) or old-style (``w.connect("valueChanged(int)", slot)``), spin boxes that
clamp and round like Qt's, combo boxes that emit ``currentIndexChanged``, node selectors that pick
their first node when "None" is not allowed. A method the real class has but the stand-in does not
model raises ``AttributeError``, so a panel cannot call an API nobody checked.

Classes are distinct per name (``type(widget) == qt.QSpinBox`` is how the connectors test them) and
follow Qt's inheritance (``QSpinBox`` is a ``QWidget``).
"""

from __future__ import annotations

import inspect
import types

# ---------------------------------------------------------------------------------------------- signals


class Signal:
    """A Qt signal: slots are called with as many of the arguments as they accept (as PythonQt does)."""

    def __init__(self) -> None:
        self._slots: list = []

    def connect(self, slot) -> None:
        self._slots.append(slot)

    def disconnect(self, slot=None) -> None:
        if slot is None:
            self._slots.clear()
        elif slot in self._slots:
            self._slots.remove(slot)

    def emit(self, *args) -> None:
        for slot in list(self._slots):
            slot(*args[:_arity(slot, len(args))])

    def __call__(self, *args) -> None:  # PythonQt: signal(…) emits
        self.emit(*args)


def _arity(slot, n: int) -> int:
    try:
        params = inspect.signature(slot).parameters.values()
    except (TypeError, ValueError):
        return n
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return n
    return min(n, sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)))


# ---------------------------------------------------------------------------------------------- objects


class QObject:
    """Qt object: properties as attributes, dynamic properties, children, signals."""

    PROPERTIES: dict = {"objectName": ""}
    SIGNALS: tuple = ("destroyed",)

    def __init__(self, parent=None, *args) -> None:
        object.__setattr__(self, "_props", {})
        object.__setattr__(self, "_dynamic", {})
        object.__setattr__(self, "_children", [])
        object.__setattr__(self, "_signals", {})
        object.__setattr__(self, "_parent", None)
        for cls in reversed(type(self).__mro__):
            self._props.update(cls.__dict__.get("PROPERTIES", {}))
            for s in cls.__dict__.get("SIGNALS", ()):
                self._signals[s] = Signal()
        if isinstance(parent, QObject):
            parent._adopt(self)

    # properties ------------------------------------------------------------------
    def __getattr__(self, name: str):
        props = self.__dict__.get("_props", {})
        if name in props:
            return props[name]
        signals = self.__dict__.get("_signals", {})
        if name in signals:
            return signals[name]
        if name.startswith("set") and len(name) > 3:
            prop = name[3].lower() + name[4:]
            if prop in props:
                return lambda value: setattr(self, prop, value)
        if name == "name":
            return props["objectName"]
        raise AttributeError(f"{type(self).__name__} stand-in has no attribute {name!r}")

    def __setattr__(self, name: str, value) -> None:
        if name == "name":
            name = "objectName"
        if name in self._props:
            old = self._props[name]
            self._props[name] = self._coerce(name, value)
            if self._props[name] != old:
                self._changed(name, old)
        else:
            object.__setattr__(self, name, value)

    def _coerce(self, name: str, value):
        return value

    def _changed(self, name: str, old) -> None:
        """A property changed: emit what Qt would."""

    def property(self, name: str):
        if name in self._props:
            return self._props[name]
        return self._dynamic.get(name)

    def setProperty(self, name: str, value) -> None:
        if name in self._props:
            setattr(self, name, value)
        else:
            self._dynamic[name] = value

    def className(self) -> str:
        return type(self).__name__

    # tree ------------------------------------------------------------------------
    def _adopt(self, child: QObject) -> None:
        if child._parent is not None and child in child._parent._children:
            child._parent._children.remove(child)
        object.__setattr__(child, "_parent", self)
        self._children.append(child)

    def parent(self):
        return self._parent

    def children(self) -> list:
        return list(self._children)

    def findChildren(self, cls=None) -> list:
        out = []
        for c in self._children:
            if cls is None or isinstance(c, cls):
                out.append(c)
            out.extend(c.findChildren(cls))
        return out

    def isWidgetType(self) -> bool:
        return False

    # old-style connections -------------------------------------------------------------
    def connect(self, signature: str, slot) -> bool:
        name = signature.split("(")[0].strip()
        if name not in self._signals:
            raise AttributeError(f"{type(self).__name__} stand-in has no signal {signature!r}")
        self._signals[name].connect(slot)
        return True

    def disconnect(self, signature: str, slot=None) -> bool:
        self._signals[signature.split("(")[0].strip()].disconnect(slot)
        return True

    def deleteLater(self) -> None:
        pass


class QWidget(QObject):
    PROPERTIES = {"enabled": True, "visible": True, "toolTip": "", "geometry": None, "sizePolicy": None,
                  "minimumSize": None, "maximumSize": None, "styleSheet": ""}

    def __init__(self, parent=None, *args) -> None:
        super().__init__(parent)
        object.__setattr__(self, "_layout", None)

    def isWidgetType(self) -> bool:
        return True

    def layout(self):
        return self._layout

    def setLayout(self, layout) -> None:
        object.__setattr__(self, "_layout", layout)
        self._adopt(layout)
        object.__setattr__(layout, "_owner", self)

    def show(self) -> None:
        self.visible = True

    def hide(self) -> None:
        self.visible = False

    def isVisible(self) -> bool:
        return self.visible


class QLayout(QObject):
    PROPERTIES = {"leftMargin": 0, "topMargin": 0, "rightMargin": 0, "bottomMargin": 0, "spacing": 0,
                  "contentsMargins": None}

    def __init__(self, parent=None, *args) -> None:
        super().__init__(None)
        object.__setattr__(self, "_owner", None)
        object.__setattr__(self, "_items", [])
        if isinstance(parent, QWidget):
            parent.setLayout(self)

    def addWidget(self, widget, *args) -> None:
        self._items.append(widget)
        if self._owner is not None:
            self._owner._adopt(widget)

    def addLayout(self, layout, *args) -> None:
        self._items.append(layout)
        if self._owner is not None:
            self._owner._adopt(layout)
            object.__setattr__(layout, "_owner", self._owner)

    def addRow(self, *items) -> None:
        for item in items:
            if isinstance(item, QWidget):
                self.addWidget(item)
            elif isinstance(item, QLayout):
                self.addLayout(item)

    def addStretch(self, *args) -> None:
        self._items.append("stretch")

    def addItem(self, item) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)


class QVBoxLayout(QLayout):
    pass


class QHBoxLayout(QLayout):
    pass


class QFormLayout(QLayout):
    pass


class QGridLayout(QLayout):
    pass


class QLabel(QWidget):
    PROPERTIES = {"text": "", "wordWrap": False, "alignment": None, "textFormat": None, "openExternalLinks": False}

    def __init__(self, text="", parent=None, *args) -> None:
        if isinstance(text, QObject):
            text, parent = "", text
        super().__init__(parent)
        self.text = text


class QAbstractButton(QWidget):
    PROPERTIES = {"text": "", "checkable": False, "checked": False, "icon": None}
    SIGNALS = ("clicked", "toggled", "pressed", "released")

    def _changed(self, name: str, old) -> None:
        if name == "checked":
            self.toggled.emit(self.checked)

    def click(self) -> None:
        if self.enabled:
            if self.checkable:
                self.checked = not self.checked
            self.clicked.emit(self.checked)


class QPushButton(QAbstractButton):
    def __init__(self, text="", parent=None, *args) -> None:
        if isinstance(text, QObject):
            text, parent = "", text
        super().__init__(parent)
        self.text = text


class QToolButton(QAbstractButton):
    pass


class QCheckBox(QAbstractButton):
    SIGNALS = ("stateChanged",)

    def _changed(self, name: str, old) -> None:
        super()._changed(name, old)
        if name == "checked":
            self.stateChanged.emit(2 if self.checked else 0)


class QAbstractSpinBox(QWidget):
    PROPERTIES = {"minimum": 0, "maximum": 99, "value": 0, "singleStep": 1, "suffix": "", "prefix": "",
                  "readOnly": False}
    SIGNALS = ("valueChanged",)

    def _coerce(self, name: str, value):
        if name == "value":
            return min(max(value, self._props["minimum"]), self._props["maximum"])
        return value

    def _changed(self, name: str, old) -> None:
        if name in ("minimum", "maximum"):
            if self._props["minimum"] > self._props["maximum"]:  # Qt moves the other bound along
                other = "maximum" if name == "minimum" else "minimum"
                self._props[other] = self._props[name]
            self.value = self._props["value"]  # re-clamp
        elif name == "value":
            self.valueChanged.emit(self.value)

    def setRange(self, minimum, maximum) -> None:
        self.minimum = minimum
        self.maximum = max(minimum, maximum)

    def setMinimum(self, value) -> None:
        self.minimum = value

    def setMaximum(self, value) -> None:
        self.maximum = value


class QSpinBox(QAbstractSpinBox):
    def _coerce(self, name: str, value):
        if name in ("minimum", "maximum", "value", "singleStep"):
            value = int(value)
        return super()._coerce(name, value)


class QSlider(QSpinBox):
    PROPERTIES = {"orientation": None}


class QDoubleSpinBox(QAbstractSpinBox):
    PROPERTIES = {"decimals": 2, "minimum": 0.0, "maximum": 99.99, "value": 0.0}

    def _coerce(self, name: str, value):
        if name in ("minimum", "maximum", "value"):  # QDoubleSpinBox rounds every value to `decimals`
            value = round(float(value), int(self._props["decimals"]))
        return super()._coerce(name, value)


class QComboBox(QWidget):
    PROPERTIES = {"currentIndex": -1, "editable": False}
    SIGNALS = ("currentIndexChanged", "currentTextChanged", "activated")

    def __init__(self, parent=None, *args) -> None:
        super().__init__(parent)
        object.__setattr__(self, "_items", [])

    def _coerce(self, name: str, value):
        if name == "currentIndex":
            value = int(value)
            return value if 0 <= value < len(self._items) else -1
        return value

    def _changed(self, name: str, old) -> None:
        if name == "currentIndex":
            self.currentIndexChanged.emit(self.currentIndex)
            self.currentTextChanged.emit(self.currentText)

    @property
    def currentText(self) -> str:
        return self._items[self.currentIndex] if self.currentIndex >= 0 else ""

    def addItem(self, text, *args) -> None:
        self._items.append(str(text))
        if self.currentIndex < 0:
            self.currentIndex = 0

    def addItems(self, texts) -> None:
        for t in texts:
            self.addItem(t)

    def clear(self) -> None:
        self._items.clear()
        self.currentIndex = -1

    def count(self) -> int:
        return len(self._items)

    def itemText(self, index: int) -> str:
        return self._items[index]

    def findText(self, text: str) -> int:
        return self._items.index(text) if text in self._items else -1


class QLineEdit(QWidget):
    PROPERTIES = {"text": "", "placeholderText": "", "readOnly": False}
    SIGNALS = ("textChanged", "editingFinished")

    def _changed(self, name: str, old) -> None:
        if name == "text":
            self.textChanged.emit(self.text)


class QTextEdit(QWidget):
    PROPERTIES = {"plainText": ""}
    SIGNALS = ("textChanged",)

    def toPlainText(self) -> str:
        return self.plainText

    def setPlainText(self, text: str) -> None:
        self.plainText = text
        self.textChanged.emit()


class QProgressBar(QWidget):
    PROPERTIES = {"value": 0, "minimum": 0, "maximum": 100, "textVisible": True, "format": "%p%"}

    def _coerce(self, name: str, value):
        if name == "value":
            return min(max(int(value), self._props["minimum"]), self._props["maximum"])
        return value


class QColor:
    def __init__(self, *args) -> None:
        self._args = args

    def name(self, *args) -> str:
        return str(self._args[0]) if self._args else "#000000"


class QIcon:
    def __init__(self, *args) -> None:
        self.args = args


class QSettings:
    """Empty settings: every key is unset (the harness runs without a user profile)."""

    def __init__(self, *args) -> None:
        pass

    def contains(self, key: str) -> bool:
        return False

    def value(self, key: str, default=None):
        return default

    def setValue(self, key: str, value) -> None:
        pass


class QMessageBox(QWidget):
    Ok, Cancel, Yes, No, Retry, Close = 0x400, 0x400000, 0x4000, 0x10000, 0x80000, 0x200000
    Information, Warning, Critical, Question = 1, 2, 3, 4


class Qt:
    WaitCursor = 3
    Vertical = 2
    Horizontal = 1


# ---------------------------------------------------------------------------------------------- ctk


class ctkCollapsibleButton(QAbstractButton):
    PROPERTIES = {"collapsed": False, "contentsFrameShape": None}


class ctkPathLineEdit(QWidget):
    PROPERTIES = {"currentPath": "", "filters": 0, "nameFilters": [], "label": "", "showBrowseButton": True}
    SIGNALS = ("currentPathChanged", "validInputChanged")

    def _coerce(self, name: str, value):
        return str(value) if name == "currentPath" else value

    def _changed(self, name: str, old) -> None:
        if name == "currentPath":
            self.currentPathChanged.emit(self.currentPath)


class ctkDirectoryButton(QWidget):
    PROPERTIES = {"directory": ""}
    SIGNALS = ("directoryChanged",)

    def _changed(self, name: str, old) -> None:
        if name == "directory":
            self.directoryChanged.emit(self.directory)


class ctkSliderWidget(QDoubleSpinBox):
    pass


class ctkDoubleSpinBox(QDoubleSpinBox):
    pass


class ctkDoubleSlider(QDoubleSpinBox):
    pass


class ctkCheckBox(QCheckBox):
    pass


class ctkComboBox(QComboBox):
    pass


class ctkCheckablePushButton(QPushButton):
    PROPERTIES = {"checkBoxControlsButtonToggleState": False}


class ctkColorPickerButton(QWidget):
    PROPERTIES = {"color": None}
    SIGNALS = ("colorChanged",)


class ctkRangeWidget(QWidget):
    PROPERTIES = {"minimumValue": 0.0, "maximumValue": 0.0, "decimals": 2, "singleStep": 1.0}
    SIGNALS = ("valuesChanged",)


class ctkDoubleRangeSlider(ctkRangeWidget):
    pass


# ---------------------------------------------------------------------------------------------- Slicer widgets


class qMRMLWidget(QWidget):
    SIGNALS = ("mrmlSceneChanged",)

    def __init__(self, parent=None, *args) -> None:
        super().__init__(parent)
        object.__setattr__(self, "_scene", None)

    def setMRMLScene(self, scene) -> None:
        object.__setattr__(self, "_scene", scene)
        self.mrmlSceneChanged.emit(scene)

    def mrmlScene(self):
        return self._scene


class qSlicerWidget(qMRMLWidget):
    pass


def _isA(node, classNames) -> bool:
    return any(node.IsA(c) for c in classNames)


class qMRMLNodeComboBox(qMRMLWidget):
    """Node selector: ``nodeTypes``, optional "None"; with "None" not allowed it selects the first node."""

    PROPERTIES = {"nodeTypes": [], "noneEnabled": False, "addEnabled": True, "removeEnabled": True,
                  "renameEnabled": False, "editEnabled": False, "showChildNodeTypes": True, "showHidden": False,
                  "selectNodeUponCreation": True, "baseName": ""}
    SIGNALS = ("currentNodeChanged", "currentNodeIDChanged", "nodeAdded", "nodeActivated")

    def __init__(self, parent=None, *args) -> None:
        super().__init__(parent)
        object.__setattr__(self, "_current", None)

    def _coerce(self, name: str, value):
        return list(value) if name == "nodeTypes" else value

    def nodes(self) -> list:
        scene = self._scene
        if scene is None:
            return []
        found = []
        for i in range(scene.GetNumberOfNodes()):
            node = scene.GetNthNode(i)
            if node is None or node.GetHideFromEditors() or not _isA(node, self.nodeTypes):
                continue
            if not self.showChildNodeTypes and node.GetClassName() not in self.nodeTypes:
                continue
            found.append(node)
        return found

    def setMRMLScene(self, scene) -> None:
        super().setMRMLScene(scene)
        if self._current is None and not self.noneEnabled and self.nodes():
            self.setCurrentNode(self.nodes()[0])

    def currentNode(self):
        return self._current

    def currentNodeID(self) -> str:
        return self._current.GetID() if self._current is not None else ""

    def setCurrentNode(self, node) -> None:
        if node is not None and (node not in self.nodes()):
            node = None  # not offered by this selector: nothing is selected (as Qt's model lookup fails)
        if node is self._current:
            return
        object.__setattr__(self, "_current", node)
        self.currentNodeChanged.emit(node)
        self.currentNodeIDChanged.emit(self.currentNodeID())

    def setCurrentNodeID(self, nodeID: str) -> None:
        self.setCurrentNode(self._scene.GetNodeByID(nodeID) if self._scene is not None and nodeID else None)


class qMRMLSegmentSelectorWidget(qMRMLWidget):
    """Segment list of one segmentation; with "None" not allowed it selects the first segment."""

    PROPERTIES = {"noneEnabled": False, "editEnabled": False, "multiSelection": False,
                  "segmentationNodeSelectorVisible": True}
    SIGNALS = ("currentNodeChanged", "currentSegmentChanged", "segmentSelectionChanged")

    def __init__(self, parent=None, *args) -> None:
        super().__init__(parent)
        object.__setattr__(self, "_node", None)
        object.__setattr__(self, "_segment", "")

    def setSegmentationNodeSelectorVisible(self, visible: bool) -> None:
        self.segmentationNodeSelectorVisible = bool(visible)

    def currentNode(self):
        return self._node

    def setCurrentNode(self, node) -> None:
        if node is self._node:
            return
        object.__setattr__(self, "_node", node)
        self.currentNodeChanged.emit(node)
        ids = list(node.GetSegmentation().GetSegmentIDs()) if node is not None else []
        self.setCurrentSegmentID(ids[0] if ids and not self.noneEnabled else "")

    def currentSegmentID(self) -> str:
        return self._segment

    def setCurrentSegmentID(self, segmentID: str) -> None:
        node = self._node
        if segmentID and (node is None or node.GetSegmentation().GetSegment(segmentID) is None):
            return  # not a segment of the current node: the selection stays
        if segmentID != self._segment:
            object.__setattr__(self, "_segment", segmentID or "")
            self.currentSegmentChanged.emit(self._segment)


class qSlicerMarkupsPlaceWidget(qSlicerWidget):
    PROPERTIES = {"buttonsVisible": True, "placeMultipleMarkups": 0}

    def __init__(self, parent=None, *args) -> None:
        super().__init__(parent)
        object.__setattr__(self, "_node", None)

    def setCurrentNode(self, node) -> None:
        object.__setattr__(self, "_node", node)

    def currentNode(self):
        return self._node


class qMRMLTableView(qMRMLWidget):
    SIGNALS = ("clicked", "selectionChanged")

    def __init__(self, parent=None, *args) -> None:
        super().__init__(parent)
        object.__setattr__(self, "_table", None)

    def setMRMLTableNode(self, node) -> None:
        object.__setattr__(self, "_table", node)

    def mrmlTableNode(self):
        return self._table


class qMRMLSliderWidget(ctkSliderWidget):
    pass


class qMRMLSpinBox(ctkDoubleSpinBox):
    pass


class qMRMLRangeWidget(ctkRangeWidget):
    pass


SLICER_WIDGETS = (qMRMLWidget, qSlicerWidget, qMRMLNodeComboBox, qMRMLSegmentSelectorWidget,
                  qSlicerMarkupsPlaceWidget, qMRMLTableView, qMRMLSliderWidget, qMRMLSpinBox, qMRMLRangeWidget)


# ---------------------------------------------------------------------------------------------- modules


def _module(name: str, members: dict) -> types.ModuleType:
    module = types.ModuleType(name, f"stand-in for Slicer's {name!r} module (Testing/slicer_harness/standins.py)")
    module.__dict__.update(members)

    def __getattr__(attr: str):  # a class the stand-in does not model: any use of its API fails
        if attr[:1] in ("Q", "c") and not attr.startswith("__"):
            cls = type(attr, (QWidget,), {})
            setattr(module, attr, cls)
            return cls
        raise AttributeError(f"stand-in module {name!r} has no attribute {attr!r}")

    module.__getattr__ = __getattr__
    return module


def _qtcore() -> dict:
    """Real Qt for processes and timers (PySide6) when it is installed: the worker tests need an event loop."""
    try:
        from PySide6 import QtCore
    except ImportError:
        return {}
    return {"QProcess": QtCore.QProcess, "QProcessEnvironment": QtCore.QProcessEnvironment,
            "QTimer": QtCore.QTimer, "QByteArray": QtCore.QByteArray}


def qt_module() -> types.ModuleType:
    members = {c.__name__: c for c in (QObject, QWidget, QLayout, QVBoxLayout, QHBoxLayout, QFormLayout, QGridLayout,
                                       QLabel, QAbstractButton, QPushButton, QToolButton, QCheckBox,
                                       QAbstractSpinBox, QSpinBox, QSlider, QDoubleSpinBox, QComboBox, QLineEdit,
                                       QTextEdit, QProgressBar, QColor, QIcon, QSettings, QMessageBox, Qt)}
    members.update(_qtcore())
    return _module("qt", members)


def ctk_module() -> types.ModuleType:
    return _module("ctk", {c.__name__: c for c in (
        ctkCollapsibleButton, ctkPathLineEdit, ctkDirectoryButton, ctkSliderWidget, ctkDoubleSpinBox, ctkDoubleSlider,
        ctkCheckBox, ctkComboBox, ctkCheckablePushButton, ctkColorPickerButton, ctkRangeWidget, ctkDoubleRangeSlider)})


def class_for(module_qt, module_ctk, slicer_module, class_name: str):
    """The stand-in class for a .ui widget class name, from the namespace PythonQt puts it in."""
    if class_name.startswith("ctk"):
        return getattr(module_ctk, class_name)
    if class_name.startswith("q"):
        return getattr(slicer_module, class_name)
    return getattr(module_qt, class_name)
