"""Table nodes from rows of Python values (metrics and lesion lists shown in Slicer's table views)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import vtk


def _column(name: str, values: Sequence[Any]):
    if all(isinstance(v, bool) for v in values) and values:
        arr = vtk.vtkIntArray()
    elif all(isinstance(v, int) and not isinstance(v, bool) for v in values) and values:
        arr = vtk.vtkIntArray()
    elif all(isinstance(v, (int, float)) or v is None for v in values) and values:
        arr = vtk.vtkDoubleArray()
    else:
        arr = vtk.vtkStringArray()
    arr.SetName(name)
    for v in values:
        if isinstance(arr, vtk.vtkStringArray):
            arr.InsertNextValue("" if v is None else str(v))
        elif isinstance(arr, vtk.vtkIntArray):
            arr.InsertNextValue(int(v))
        else:
            arr.InsertNextValue(float("nan") if v is None else float(v))
    return arr


def table_from_rows(scene, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], node=None):
    """Fill (or create) a ``vtkMRMLTableNode`` with ``rows``; column types follow the values."""
    if node is None:
        node = scene.AddNewNodeByClass("vtkMRMLTableNode", scene.GenerateUniqueName(name))
    table = vtk.vtkTable()
    for c, col in enumerate(columns):
        table.AddColumn(_column(col, [row[c] for row in rows]))
    node.SetAndObserveTable(table)
    node.SetUseColumnNameAsColumnHeader(True)
    node.Modified()
    return node


def table_rows(node) -> list[dict[str, Any]]:
    """The rows of a table node as dicts (column name → value), e.g. to read a clicked row."""
    table = node.GetTable()
    names = [table.GetColumnName(c) for c in range(table.GetNumberOfColumns())]
    rows = []
    for r in range(table.GetNumberOfRows()):
        row = {}
        for c, n in enumerate(names):
            v = table.GetValue(r, c)
            row[n] = v.ToString() if isinstance(table.GetColumn(c), vtk.vtkStringArray) else v.ToDouble()
        rows.append(row)
    return rows
