"""Geometry ``ellipsoid``: cells shaped like their nuclei, for elongated cells (:mod:`cellframe.model.ellipsoids`)."""

from __future__ import annotations

from cellframe import hookimpl
from cellframe.model.ellipsoids import Ellipsoid, EllipsoidSettings
from cellframe.stages import Stage


@hookimpl
def cellframe_stages():
    return [Stage("geometry", "ellipsoid", EllipsoidSettings, "ellipsoids from the nucleus' shape (Perram-Wertheim contact)")]


@hookimpl
def cellframe_geometry(nuclei, model, settings):
    return Ellipsoid(nuclei, model, settings)
