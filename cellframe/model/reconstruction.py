"""The result of one patch: the nuclei, the optimised cells and how the search went."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from cellframe.model.geometry import Geometry
from cellframe.io.nuclei import NUCLEI_COLUMNS
from cellframe.model.measure import sphericity
from cellframe.model.nc import FORMS, nc_ratios
from cellframe.model.sections import clip_to_mask, clipped_ellipse_areas, polygon_area


class OnDisk:
    """A field holding a large per-patch array that may be left in the patch's state file.

    After :meth:`Reconstruction.keep_on_disk`, reading the field loads the array from the file
    each time (nothing is kept), so a run over thousands of patches does not hold every
    patch's label image in memory. Reading a class attribute gives the field's default, None.
    """

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return None
        value = obj.__dict__.get(self.name)
        stored = obj.__dict__.get("_arrays_file")
        if value is None and stored is not None:
            with np.load(stored, allow_pickle=False) as arrays:
                value = arrays[self.name] if self.name in arrays.files else None
        return value

    def __set__(self, obj, value):
        obj.__dict__[self.name] = value


@dataclass
class Reconstruction:
    """Cells of one patch.

    :param sample_id: the patch's id (output folder name).
    :param nuclei: the nuclei table from the segmenter.
    :param geometry: the geometry over all nuclei (shapes, sections, mesh).
    :param x: the solution vector of ``geometry``.
    :param history: best total fitness after each optimizer iteration.
    :param penalties: unweighted value of each penalty term at ``x``.
    :param plane_z: depth of the plane the 2D cell regions are cut at.
    """

    sample_id: str
    nuclei: pd.DataFrame
    geometry: Geometry
    x: np.ndarray
    history: np.ndarray
    penalties: dict[str, float]
    plane_z: float = 0.0
    image_shape: tuple[int, ...] = ()
    source: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    optimizer: dict = field(default_factory=dict)
    #: per component of overlapping nuclei: the depth it needs and whether z_max allows it
    feasibility: pd.DataFrame | None = None
    #: per cell, mean and spread of each parameter over ``reconstruction.samples`` independent runs
    spread: pd.DataFrame | None = None
    #: the patient (TCGA barcode prefix of the sample id, or the manifest's ``patient_id``)
    patient: str | None = None
    #: where the patch lies in a whole slide (:class:`cellframe.io.slides.SlideRegion`), if it came from one
    region: object | None = None
    #: the segmenter's instance label image, when it kept one (``nuclei.attrs["labels"]``)
    labels: np.ndarray | None = OnDisk()
    #: counts the segmenter reported (``nuclei.attrs["counts"]``: e.g. objects rejected as not nuclei)
    segmentation: dict[str, int] = field(default_factory=dict)
    #: depths of the section's faces in the cells' z (the objective's; the mid-plane lies between)
    section: tuple[float, float] = (0.0, 0.0)
    #: the depths a nucleus centre could take (clusters needing more cannot be free of interpenetration)
    depth_range: tuple[float, float] = (0.0, 0.0)
    #: per-cell columns the objective adds (e.g. ``rho``, the estimated 3D nuclear radius)
    extra: pd.DataFrame | None = None
    #: numbers the objective read from the image (``Objective.diagnostics``: e.g. the fitted outline edge)
    evidence: dict[str, float] = field(default_factory=dict)
    #: where the image shows cellular tissue (the objective's; cells' regions at the plane are clipped to it)
    tissue: np.ndarray | None = OnDisk()

    def keep_on_disk(self, arrays_file) -> None:
        """Leave ``labels`` and ``tissue`` in ``arrays_file`` (an ``.npz`` holding them: the patch's
        saved state), reading them back only when used, and drop the cached cell regions
        (recomputed when needed); the cell table stays."""
        self.__dict__["_arrays_file"] = arrays_file
        self.__dict__["labels"] = self.__dict__["tissue"] = None
        self.__dict__.pop("sections", None)

    @cached_property
    def violations(self) -> np.ndarray:
        """Candidate pairs whose nuclei interpenetrate in 3D by more than 1e-6 px."""
        return self.geometry.pairs[self.geometry.interpenetrating(self.x, tol=1e-6)]

    @property
    def n_violations(self) -> int:
        return len(self.violations)

    @property
    def iterations_to_feasible(self) -> int:
        """First iteration whose best fitness is exactly 0 (0 = the start), or -1 if never."""
        zero = np.flatnonzero(self.history == 0.0)
        return int(zero[0]) if len(zero) else -1

    def feasibility_summary(self) -> dict[str, float]:
        """Counts of components by feasibility, and interpenetrations inside feasible ones."""
        f = self.feasibility
        if f is None:
            return {}
        feasible = f.loc[f["feasible"] == True, "component"]  # noqa: E712 (column holds None too)
        comp = self.geometry.components()
        in_feasible = np.isin(comp[self.violations[:, 0]], feasible.to_numpy()) if self.n_violations else []
        return {
            "n_components": len(f),
            "n_infeasible_components": int((f["feasible"] == False).sum()),  # noqa: E712
            "n_undetermined_components": int(f["feasible"].isna().sum()),
            "max_needed_depth": float(f["needed_depth"].max()) if len(f) else 0.0,
            "n_violations_feasible": int(np.sum(in_feasible)),
        }

    @cached_property
    def sections(self) -> list[np.ndarray]:
        """Each cell's 2D region at ``plane_z`` (empty when the cell does not reach it), inside the
        visible tissue where the objective knows it."""
        regions = self.geometry.sections(self.x, self.plane_z)
        tissue = self.tissue
        if tissue is None:
            return regions
        return [clip_to_mask(region, tissue) for region in regions]

    def read_image(self) -> np.ndarray:
        """The patch's H&E (RGB uint8) as the run saw it: read again from its slide region (the patch and
        its halo, at the run's pixel size), or from its image file."""
        from cellframe.io.files import as_rgb, read_image
        from cellframe.io.slides import read_region

        if self.region is not None:
            return read_region(self.region)
        path = self.source["image"]
        return as_rgb(read_image(path, "image"), path)

    @property
    def owned(self) -> np.ndarray:
        """Which cells are the patch's own, as a boolean per cell: all, or for a slide patch those centred in
        the patch itself and not in its halo (the neighbour patch owns those). Analyses read these alone,
        so each of a slide's cells counts once, as in the slide's table."""
        if self.region is None:
            return np.ones(self.geometry.n, bool)
        xy = self.nuclei[["x", "y"]].to_numpy(float)
        return np.asarray(self.region.owns(xy[:, 0], xy[:, 1]), bool)

    @property
    def nc_ratios(self) -> pd.DataFrame:
        """The cell table's N/C ratios by radius, area and volume (:func:`cellframe.model.nc.nc_ratios`)."""
        cells = self.cells
        return pd.DataFrame({form: cells[f"nc_ratio_{form}"] for form in FORMS}, index=cells.index)

    @property
    def cell_features(self) -> pd.DataFrame:
        """The cell table with the N/C ratios also under their short names (``nc_radius``, ...)."""
        return self.cells.join(self.nc_ratios.add_prefix("nc_"))

    @cached_property
    def cells(self) -> pd.DataFrame:
        """The cell table: one row per nucleus, its cell's centre, shape and measurements."""
        shape = self.geometry.cells(self.x)
        table = pd.DataFrame({"cell_id": np.arange(self.geometry.n), "label": self.nuclei["label"].to_numpy()})
        table = pd.concat([table, shape], axis=1)
        table["r"] = self.geometry.r
        axes = self.geometry.semi_axes(self.x)
        if "R_eq" not in table:
            table["R_eq"] = np.cbrt(axes.prod(axis=1))
        table["volume"] = self.geometry.volumes(self.x)
        table["surface_area"] = self.geometry.surface_areas(self.x)
        table["sphericity"] = sphericity(table["volume"], table["surface_area"])
        table["section_area"] = [polygon_area(p) for p in self.sections]
        table["nuclear_area"] = self.nuclei["area"].to_numpy(float)
        table["nuclear_volume"] = self.geometry.nuclear_volumes(self.x)
        rho = None
        if self.extra is not None and len(self.extra.columns):
            for column in self.extra.columns:
                table[column] = self.extra[column].to_numpy()
            if "rho" in self.extra:  # the objective estimated each nucleus' true radius (lost caps)
                rho = table["rho"].to_numpy(float)
                table["nuclear_volume"] = 4.0 / 3.0 * np.pi * rho**3
        # the nucleus' own section at the plane, inside its cell's region (not the whole 2D profile)
        table["nuclear_section_area"] = clipped_ellipse_areas(
            table[["x", "y"]].to_numpy(float), self.geometry.nuclear_sections(self.x, self.plane_z, rho), self.sections)
        ratios = nc_ratios(table)
        for form in ratios:
            table[f"nc_ratio_{form}"] = ratios[form].to_numpy()
        if self.spread is not None:
            table = pd.concat([table, self.spread.set_index(table.index)], axis=1)
        if self.region is not None:  # every coordinate maps back to the slide's level 0
            table["x_slide"], table["y_slide"] = self.region.centres_to_slide(table["x"], table["y"])
            table["owned"] = self.owned
        for column in self.nuclei.columns.difference(NUCLEI_COLUMNS):  # e.g. cell_type from an importer
            table[column] = self.nuclei[column].to_numpy()
        table.insert(0, "sample_id", self.sample_id)
        return table
