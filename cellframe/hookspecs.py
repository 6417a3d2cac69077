"""Every hook cellframe calls, in one module.

A plugin is a module (or object) with functions named after these hooks and
decorated with :data:`cellframe.hookimpl`. Plugins are found through the
``cellframe`` entry-point group; the built-in stages in ``plugins/`` register
exactly the same way a third-party package does.

Stages are chosen by name in the config (``optimizer=pso``). A plugin announces
the names it serves with :func:`cellframe_stages`; each name is bound to that
plugin's implementation of the stage's hook, and the core calls exactly that
implementation (:meth:`cellframe.registry.Registry.call`), never the others:
no plugin needs to check ``name``. A plugin serving several stages of one kind
reads ``name`` to tell them apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from cellframe.model.geometry import Geometry
    from cellframe.model.objective import Objective
    from cellframe.model.problem import OptimizeResult, Problem
    from cellframe.model.reconstruction import Reconstruction
    from cellframe.stages import Stage

hookspec = pluggy.HookspecMarker("cellframe")


# ---------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------


@hookspec
def cellframe_stages() -> list[Stage]:
    """Declare the stages this plugin provides.

    Each :class:`cellframe.stages.Stage` names a kind (``segmenter``,
    ``geometry``, ``optimizer``, ``exporter`` or ``analysis``), the name users
    select it by, and a dataclass schema of its settings. The schema is stored
    in Hydra's ConfigStore as the option ``<kind>/<name>``, so ``optimizer=NAME``
    works on the command line and every setting is type-checked when the config
    is composed.

    :return: the stages of this plugin.
    """


# ---------------------------------------------------------------------------
# Stages of a reconstruction, in the order the pipeline calls them
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def cellframe_segment(
    name: str, image: np.ndarray | None, mask: np.ndarray | None, mask_path: Path | None, mpp: float, settings: Any
) -> pd.DataFrame | None:
    """Turn an H&E image and/or a nuclei mask into a nuclei table.

    An implementation may declare only the arguments it uses.

    :param name: the selected segmenter; only needed by a plugin that serves several.
    :param image: the RGB image as ``(H, W, 3)`` uint8, or ``None``.
    :param mask: ``input.mask`` read as an image (binary or labelled) when it is
        one, else ``None``.
    :param mask_path: the ``input.mask`` file (an image, or another tool's
        export such as HoVer-Net JSON or QuPath GeoJSON), or ``None``.
    :param mpp: microns per pixel of the image (``input.mpp``).
    :param settings: this segmenter's validated settings (its schema).
    :return: a table with one row per nucleus and at least the columns
        ``label`` (int), ``x``, ``y`` (centroid in pixels, x = column,
        y = row) and ``r`` (nuclear radius in pixels); see
        :data:`cellframe.io.nuclei.NUCLEI_COLUMNS`. Extra columns (e.g.
        ``cell_type``) are carried into the cell table. A segmenter that has an
        instance label image may attach it as ``table.attrs["labels"]``
        (values = the ``label`` column) for exporters that need nucleus masks.
    """


@hookspec(firstresult=True)
def cellframe_geometry(name: str, nuclei: pd.DataFrame, model: Any, settings: Any) -> Geometry | None:
    """Build the cell geometry for a set of nuclei.


    The returned object (see :class:`cellframe.model.geometry.Geometry`) defines the
    parameter layout and bounds of the search, evaluates the penalty terms for
    a whole swarm at once, and turns a solution into cells: their table, 2D
    boundaries at a plane, each nucleus' own section there, volumes and a mesh.
    Optional capabilities the core calls only where present: ``depth_order``
    (can each cluster's depth range hold its nuclei apart; repair those that
    can), as the sphere implements it.

    :param name: the selected geometry; only needed by a plugin that serves several.
    :param nuclei: the nuclei table from :func:`cellframe_segment`.
    :param model: the ``model`` config (alpha, beta, z_max, lambdas).
    :param settings: this geometry's validated settings.
    """


@hookspec(firstresult=True)
def cellframe_objective(
    name: str, geometry: Geometry, image: np.ndarray | None, model: Any, mpp: float, settings: Any,
    rng: np.random.Generator, samples: int, unlisted: np.ndarray | None
) -> Objective | None:
    """Build what the optimizer minimises over a geometry's parameters.

    ``cellsqueeze3d`` returns the paper's objective (the geometry's penalties);
    ``evidence`` adds terms read from the image. An objective may draw posterior samples for per-cell intervals
    (:meth:`cellframe.model.objective.Objective.intervals`).

    :param name: the selected objective; only needed by a plugin that serves several.
    :param geometry: the cells' geometry over every nucleus of the patch.
    :param image: the RGB image ``(H, W, 3)`` uint8, or ``None``.
    :param model: the ``model`` config (alpha, beta, z_max, section_um, lambdas).
    :param mpp: microns per pixel of the image.
    :param settings: this objective's validated settings.
    :param rng: the only source of randomness allowed.
    :param samples: ``reconstruction.samples``: posterior draws wanted for the intervals.
    :param unlisted: ``(k, 3)`` x, y, r (px) of objects the image shows as nuclei that the segmentation
        left out (``reconstruction.fill_unlisted``), or ``None``: an objective that shares space among
        nuclei lets them take theirs; others ignore it.
    :return: a :class:`cellframe.model.objective.Objective`.
    """


@hookspec(firstresult=True)
def cellframe_optimize(
    name: str, problem: Problem, settings: Any, rng: np.random.Generator
) -> OptimizeResult | None:
    """Minimise a problem's objective within its bounds.


    :param name: the selected optimizer; only needed by a plugin that serves several.
    :param problem: the objective: ``problem.lower``/``problem.upper`` bounds,
        ``problem.initial(rng, n)`` starting positions and
        ``problem.fitness(X)`` which, for positions ``X`` of shape
        ``(particles, dims)``, returns ``(particles, components)`` values;
        components are independent sub-problems (one when not decomposed), so
        the best position can be assembled component by component
        (``problem.dim_component`` maps each dimension to its component).
    :param settings: this optimizer's validated settings.
    :param rng: the only source of randomness allowed, for reproducibility.
    :return: the best position and the best total fitness after each
        iteration (the convergence curve).
    """


@hookspec(firstresult=True)
def cellframe_export(name: str, reconstruction: Reconstruction, outdir: Path, settings: Any) -> list[Path] | None:
    """Write a reconstruction to files in ``outdir``.

    Write each file under a temporary name and rename it
    (:func:`cellframe.io.files.atomic_path`) so no half-written file is ever left behind.

    :param name: the selected exporter; only needed by a plugin that serves several.
    :param reconstruction: the cells of one patch.
    :param outdir: the patch's output folder (exists).
    :param settings: this exporter's validated settings.
    :return: the paths written.
    """


@hookspec(firstresult=True)
def cellframe_analyze(
    name: str, reconstructions: list[Reconstruction], outdir: Path, settings: Any
) -> dict[str, float] | None:
    """Compute downstream metrics from the reconstructions of a run.

    Called once per run, after every patch. Tables and figures written into
    ``outdir`` are logged as artifacts of the
    run's parent MLflow run; raise :class:`cellframe.stats.analysis.AnalysisError`
    with a one-line message when the inputs do not allow the analysis.

    :param name: the selected analysis; only needed by a plugin that serves several.
    :param reconstructions: every patch of the run that succeeded.
    :param outdir: an empty folder for this analysis' files (exists).
    :param settings: this analysis' validated settings.
    :return: metric name -> value, logged to the parent run as ``<name>.<metric>``.
    """
