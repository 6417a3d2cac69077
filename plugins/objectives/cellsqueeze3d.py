"""Objective ``cellsqueeze3d``: the published objective, unchanged (Kong & Lu).

Radius bounds, section depth and non-interpenetration, weighted by
``model.lambda_*``: the geometry's own penalty terms. Nothing is read from the
image, so depth and cell size are constrained only by the bounds and by 2D
overlaps; use it to reproduce the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

from cellframe import hookimpl
from cellframe.model.objective import Objective
from cellframe.stages import Stage


@dataclass
class CellSqueeze3DSettings:
    name: str = "cellsqueeze3d"


@hookimpl
def cellframe_stages():
    return [Stage("objective", "cellsqueeze3d", CellSqueeze3DSettings,
                  "the paper's penalties only (radius bounds, section depth, non-interpenetration)")]


@hookimpl
def cellframe_objective(geometry, model):
    return Objective(geometry, model)
