"""Analysis ``report``: an HTML page of the run, with the figures also as PNG files.

For a slide run, first each slide's thumbnail with the patches read, coloured by
cell density. Then, for each drawn patch (up to ``max_patches``, spread evenly over
the run, so the report's cost is bounded however large the slide): the H&E image, the segmentation
overlay, the 2D cell regions at the plane drawn on the H&E, a top view of the
3D cells coloured by depth, a side view with the depth distribution, the
convergence curve and the N/C ratio histograms. The PNGs are logged to the
parent MLflow run with the page.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from cellframe import hookimpl
from cellframe.stats.analysis import pyplot, save_figure
from cellframe.io.files import write_text
from cellframe.io.outlines import nucleus_outlines
from cellframe.parallel import ordered_map
from cellframe.running.pipeline import rejected_counts
from cellframe.stages import Stage


@dataclass
class ReportSettings:
    name: str = "report"
    #: patches drawn (spread evenly over the run's patches)
    max_patches: int = 20
    #: longest side of each slide's thumbnail, pixels
    thumbnail_px: int = 1200
    #: processes the patch figures are drawn in (None: the CPUs; 1: in the run's own process)
    workers: Optional[int] = 1

    def __post_init__(self) -> None:
        if self.max_patches < 0 or self.thumbnail_px < 64:
            raise ValueError("max_patches must be >= 0 and thumbnail_px >= 64")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers={self.workers} must be >= 1 (or null: the CPUs)")


#: pixels across one panel of a patch figure (18 in at 110 dpi, four panels a row): images are shrunk
#: to about this before drawing, as resampling a whole patch costs matplotlib most of a figure
PANEL_PX = 500


def shrunk(image: np.ndarray, reduce=np.mean) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """``image`` reduced by whole blocks (``reduce``: mean for a picture, max so thin edges stay) to
    about :data:`PANEL_PX` across, and the ``imshow`` extent that puts it at the image's own pixel
    coordinates (the last, incomplete blocks are left out)."""
    from skimage.measure import block_reduce

    step = max(1, int(max(image.shape[:2]) // PANEL_PX))
    H, W = (image.shape[0] // step) * step, (image.shape[1] // step) * step
    block = (step, step) + (1,) * (image.ndim - 2)
    small = block_reduce(image[:H, :W], block, reduce).astype(image.dtype) if step > 1 else image
    return small, (-0.5, W - 0.5, H - 0.5, -0.5)


def patch_figure(rec, path) -> None:
    """One PNG with the seven panels of a patch."""
    from matplotlib.collections import PatchCollection, PolyCollection
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Circle
    from skimage.segmentation import find_boundaries

    plt = pyplot()
    image = rec.read_image()
    small, extent = shrunk(image)
    cells = rec.cells
    low, high = rec.depth_range if rec.depth_range[1] > rec.depth_range[0] else (0.0, float(rec.geometry.model.z_max))
    fig, axes = plt.subplots(2, 4, figsize=(18, 9))
    (a, b, c, d), (e, f, g, h) = axes
    a.imshow(small, extent=extent)
    a.set_title(f"{rec.sample_id}: H&E")
    b.imshow(small, extent=extent)
    labels = rec.labels
    if labels is not None and labels.shape == image.shape[:2]:  # the label image's edges: no tracing
        edges, _ = shrunk(find_boundaries(labels, mode="inner").astype(np.uint8), np.max)
        edges = np.ma.masked_equal(edges, 0)
        b.imshow(edges, cmap=ListedColormap(["yellow"]), interpolation="nearest", extent=extent)
    else:
        b.add_collection(PolyCollection(nucleus_outlines(labels, rec.nuclei), facecolor="none", edgecolor="yellow",
                                        lw=0.6))
    own = int(rec.owned.sum())
    b.set_title(f"segmentation: {len(cells)} nuclei" + (f" ({own} the patch's own)" if own < len(cells) else ""))
    c.imshow(small, extent=extent)
    regions = [p for p in rec.sections if len(p) >= 3]
    c.add_collection(PolyCollection(regions, facecolor="none", edgecolor="cyan", lw=0.6))
    c.set_title(f"cell regions at z = {rec.plane_z:g} px ({len(regions)} cells reach it)")
    radius = cells["R"] if "R" in cells else cells["R_eq"]
    circles = PatchCollection([Circle((x, y), R) for x, y, R in zip(cells["x"], cells["y"], radius)],
                              cmap="viridis", alpha=0.55, edgecolor="k", linewidth=0.2)
    circles.set_array(cells["z"].to_numpy())
    circles.set_clim(low, high)
    d.add_collection(circles)
    d.set_xlim(0, image.shape[1])
    d.set_ylim(image.shape[0], 0)
    d.set_aspect("equal")
    fig.colorbar(circles, ax=d, fraction=0.046, label="depth z (px)")
    d.set_title("3D cells, top view")
    for ax in (a, b, c):
        ax.set_axis_off()
    e.scatter(cells["x"], cells["z"], s=(radius.to_numpy() / 3) ** 2, c=cells["z"], cmap="viridis", vmin=low, vmax=high)
    top, bottom = rec.section if rec.section[1] > rec.section[0] else (low, high)
    e.set_ylim(high + radius.max(), low - radius.max())
    e.axhspan(top, bottom, color="grey", alpha=0.08)
    e.set_xlabel("x (px)")
    e.set_ylabel("depth z (px)")
    e.set_title("side view")
    f.hist(cells.loc[rec.owned, "z"], bins=20, range=(low, high), color="tab:green")  # a slide patch's own cells
    f.set_xlabel("depth z (px)")
    f.set_title("depth distribution")
    if len(rec.history):
        g.plot(np.arange(len(rec.history)), np.maximum(rec.history, 1e-3), marker="o", ms=3)
        g.set_yscale("log")
        if rec.history[0] == 0:
            g.text(0.5, 0.5, "feasible from the start:\nno search needed", transform=g.transAxes, ha="center")
    g.set_xlabel("iteration")
    g.set_title(f"convergence ({rec.n_violations} interpenetrating pairs)")
    ratios = rec.nc_ratios[rec.owned]
    h.hist([ratios["radius"].dropna(), ratios["area"].dropna()], bins=20, range=(0, 1), label=["r / R", "area"])
    h.legend()
    h.set_xlabel("N/C ratio")
    h.set_title("N/C ratio")
    # fixed margins: tight_layout costs about a second a figure
    fig.subplots_adjust(left=0.045, right=0.955, bottom=0.07, top=0.95, wspace=0.3, hspace=0.28)
    save_figure(fig, path)


def _draw_patch(task) -> None:
    patch_figure(*task)


def drawn(recs: list, most: int) -> list:
    """At most ``most`` patches, spread evenly over the run (the first and the last included)."""
    if len(recs) <= most:
        return list(recs)
    return [recs[k] for k in np.unique(np.linspace(0, len(recs) - 1, most).round().astype(int))] if most else []


def slide_figure(recs, path, longest: int) -> None:
    """A slide's thumbnail with every patch read outlined and filled by its cells per mm^2."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    from cellframe.io.slides import open_slide

    region0 = recs[0].region
    with open_slide(region0.slide) as slide:
        thumb = np.asarray(slide.get_thumbnail((longest, longest)).convert("RGB"))
        scale = thumb.shape[1] / slide.dimensions[0]
    density = []
    for rec in recs:
        region = rec.region
        owned = int(rec.owned.sum())
        side_mm = region.size * (region.mpp or 0.25) / 1000
        density.append(owned / side_mm**2)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 8 * thumb.shape[0] / thumb.shape[1] + 0.6))
    ax.imshow(thumb)
    colours = ScalarMappable(Normalize(0, max(density) or 1), "magma")
    for rec, value in zip(recs, density):
        r = rec.region
        side = r.size * r.downsample * scale
        ax.add_patch(Rectangle((r.x0 * scale, r.y0 * scale), side, side, facecolor=colours.to_rgba(value, alpha=0.45),
                               edgecolor="k", lw=0.5))
    if region0.annotations is not None:  # what the patches were chosen inside
        from cellframe.io.slides import annotation_polygons

        for polygon in annotation_polygons(*region0.annotations):
            for ring in (polygon.exterior, *polygon.interiors):
                xy = np.asarray(ring.coords) * scale
                ax.plot(xy[:, 0], xy[:, 1], color="#00a0ff", lw=1.2)
    fig.colorbar(colours, ax=ax, fraction=0.046, label="cells per mm$^2$")
    ax.set_title(f"{region0.slide.name}: {len(recs)} patches"
                 + (f" inside {Path(region0.annotations[0]).name} (blue)" if region0.annotations is not None else ""))
    ax.set_axis_off()
    fig.tight_layout()
    save_figure(fig, path)


def evidence_cells(rec) -> tuple[str, str, str, str]:
    """What a patch's table row says of its evidence: objects dropped as not nuclei, nuclei the imported
    outlines left out (``unlisted``), where its depths come from, and the focal plane its focus term used
    ("-" where the run reports none)."""
    dropped = sum(rejected_counts(rec.segmentation).values())
    unlisted = str(rec.segmentation["unlisted"]) if "unlisted" in rec.segmentation else "-"
    e = rec.evidence
    source = "-" if "depth_from_densities" not in e else (
        "densities and sizes" if e["depth_from_densities"] else "profile sizes only")
    plane = "-" if "focus_used" not in e else (f"{e['focus_plane_um']:.2f} um" if e.get("focus_used") else "none seen")
    return str(dropped), unlisted, source, plane


def page(recs, figures, slides=()) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(r.sample_id)}</td><td>{r.geometry.n}</td><td>{int(r.owned.sum())}</td><td>{r.n_violations}</td>"
        + "".join(f"<td>{html.escape(cell)}</td>" for cell in evidence_cells(r))
        + f"<td>{r.timings.get('total_seconds', float('nan')):.2f}</td></tr>" for r in recs)
    sections = "".join(
        f"<h2>{html.escape(r.sample_id)}</h2><p>{html.escape(r.source.get('image', ''))}</p>"
        f'<img src="{html.escape(name)}" alt="{html.escape(r.sample_id)}" style="max-width:100%">'
        for r, name in zip(recs, figures))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>cellframe report</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;text-align:right}</style></head>"
            "<body><h1>cellframe report</h1>"
            + "".join(f'<img src="{html.escape(name)}" alt="slide" style="max-width:100%">' for name in slides)
            + "<table><tr><th>patch</th><th>nuclei</th><th>its own (not a halo's)</th><th>interpenetrating pairs</th>"
            "<th>dropped as not nuclei</th><th>left out of the outlines</th><th>depth from</th><th>focal plane</th>"
            f"<th>seconds</th></tr>{rows}</table>"
            "<p>Depth from <i>profile sizes only</i>: the haematoxylin densities did not follow the chromatin "
            "path (the depth-signal check), so each depth rests on its profile's size, with intervals as wide "
            f"as that leaves them.</p>{sections}</body></html>")


@hookimpl
def cellframe_stages():
    return [Stage("analysis", "report", ReportSettings, "HTML report with figures per patch")]


@hookimpl
def cellframe_analyze(reconstructions, outdir, settings):
    by_slide: dict = {}
    for rec in reconstructions:
        if rec.region is not None:
            by_slide.setdefault(rec.region.slide, []).append(rec)
    slides = []
    for slide, members in by_slide.items():
        slides.append(f"slide_{slide.stem}.png")
        slide_figure(members, outdir / slides[-1], settings.thumbnail_px)
    recs = drawn(reconstructions, settings.max_patches)
    figures = [f"{rec.sample_id}.png" for rec in recs]
    workers = settings.workers if len(recs) > 2 else 1  # two figures are not worth starting processes
    for _ in ordered_map(_draw_patch, [(rec, outdir / name) for rec, name in zip(recs, figures)], workers):
        pass
    write_text(outdir / "index.html", page(recs, figures, slides))
    return {"patches_drawn": len(recs), "slides_drawn": len(slides)}
