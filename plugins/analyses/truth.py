"""Analysis ``truth``: a run's cells against known truth (``python -m cellframe simulate``'s files).

Each reconstructed nucleus is matched to the true one whose centre is nearest
(within half its radius). Metrics, pooled over the run's patches, each beside
the same metric for the null (a random arrangement within the paper's bounds:
``R`` uniform in ``[alpha r, beta r]``, ``z`` uniform over the section, which is
what the published objective returns when its search has nothing to do), with
bootstrap intervals for the run:

* rank correlation of ``R``, of ``R / r`` and of the distance from the mid-plane, and the mean
  absolute error of that distance (px);
* depth order of nuclei whose profiles overlap, as is and up to a mirror flip per cluster;
* KS distance of the N/C (radius) distribution to the truth's;
* Jaccard and Dice per cell of the 3D label volume against the truth volume;
* coverage of the 90 % intervals (``z``, distance from the mid-plane, ``R``) where the objective gives them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from cellframe import hookimpl

from cellframe.physics import fidelity
from cellframe.stats.analysis import AnalysisError, pyplot, save_figure
from cellframe.io.files import atomic_path
from cellframe.stages import Stage
from cellframe.model.volumes import label_volume

log = logging.getLogger("cellframe")


@dataclass
class TruthSettings:
    name: str = "truth"
    #: the simulator's truth.parquet
    table: Optional[str] = None
    #: the truth label volume; None = truth.ome.tif beside the table (skipped if absent)
    volume: Optional[str] = None
    #: for truth from another simulator (None = the simulator's metadata): section thickness in px
    #: (else the run's own section), the volume's voxel size in px and the depth of its first slice
    section_px: Optional[float] = None
    voxel_px: Optional[float] = None
    volume_z0_px: Optional[float] = None
    #: random arrangements drawn for the null
    null_draws: int = 20
    bootstrap: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        if self.table is not None and not Path(self.table).is_file():
            raise ValueError(f"table: file not found: {self.table}")
        if self.null_draws < 1 or self.bootstrap < 10:
            raise ValueError("null_draws must be >= 1 and bootstrap >= 10")
        for key in ("section_px", "voxel_px"):
            value = getattr(self, key)
            if value is not None and not (np.isfinite(value) and value > 0):
                raise ValueError(f"{key}={value} must be a positive number of pixels")


@dataclass
class Matched:
    """Matched cells of one patch: ours and the truth, row by row."""

    ours: pd.DataFrame
    truth: pd.DataFrame
    mid: float
    true_mid: float
    alpha: float
    beta: float
    section: tuple[float, float]


def _metrics(m: Matched, z: np.ndarray, R: np.ndarray, rho: np.ndarray, volume_ctx) -> dict[str, np.ndarray | float]:
    """Per-cell arrays and pair scores of one arrangement ``z``, ``R`` (``rho``: our nuclear radius)."""
    t = m.truth
    pairs = fidelity.overlap_pairs(t[["x", "y"]].to_numpy(), t["profile_r"].to_numpy())
    order, mirror = fidelity.order_accuracy(pairs, t["z"].to_numpy(), z)
    out = {"R": R, "R_over_r": R / rho, "depth": np.abs(z - m.mid), "nc": rho / R, "order": order,
           "order_mirror": mirror}
    if volume_ctx is not None:
        truth_volume, step, z0, shape_yx = volume_ctx
        centres = np.column_stack([m.ours["x"], m.ours["y"], z])
        ours, _ = label_volume(centres, R, shape_yx, step, (z0, truth_volume.shape[0]))
        ours = ours[:, : truth_volume.shape[1], : truth_volume.shape[2]]
        jac, dice = fidelity.cell_overlap(ours, truth_volume, np.arange(1, len(z) + 1), t["label"].to_numpy(int))
        out["jaccard"], out["dice"] = jac, dice
    return out


def _scores(per: dict, truth: pd.DataFrame, true_mid: float) -> dict[str, float]:
    t = truth
    scores = {
        "R_rank": fidelity.rank_correlation(per["R"], t["R"]),
        "R_over_r_rank": fidelity.rank_correlation(per["R_over_r"], t["R"] / t["r"]),
        "depth_rank": fidelity.rank_correlation(per["depth"], np.abs(t["z"] - true_mid)),
        "depth_mae_px": float(np.mean(np.abs(per["depth"] - np.abs(t["z"].to_numpy() - true_mid)))),
        "order": per["order"],
        "order_mirror": per["order_mirror"],
        "nc_ks": fidelity.ks_distance(per["nc"], t["r"] / t["R"]),
    }
    if "jaccard" in per:
        scores["jaccard"], scores["dice"] = float(np.nanmean(per["jaccard"])), float(np.nanmean(per["dice"]))
    return scores


def _pooled(parts: list[dict]) -> dict:
    out = {}
    for key in parts[0]:
        if isinstance(parts[0][key], np.ndarray):
            out[key] = np.concatenate([p[key] for p in parts])
        else:  # pair scores: mean over patches
            out[key] = float(np.nanmean([p[key] for p in parts]))
    return out


def _interval(values: list[np.ndarray], statistic, n: int, seed: int) -> tuple[float, float]:
    from scipy.stats import bootstrap

    try:
        res = bootstrap(values, statistic, paired=True, n_resamples=n, method="percentile", vectorized=False,
                        random_state=np.random.default_rng(seed))
        return float(res.confidence_interval.low), float(res.confidence_interval.high)
    except Exception:  # too few cells or a constant sample
        return float("nan"), float("nan")


def evaluate(reconstructions, table: pd.DataFrame, meta: dict, settings: TruthSettings,
             volume: np.ndarray | None = None) -> tuple[pd.DataFrame, list[Matched]]:
    """One row per metric (the run, its bootstrap interval, the null's mean and 2.5-97.5 % range),
    and the matched cells of each patch."""
    section_px = meta.get("section_px")  # the settings' overrides are already in meta
    if section_px is None:  # truth without metadata: the section the run itself assumed
        lo, hi = reconstructions[0].section if reconstructions else (0.0, 0.0)
        section_px = hi - lo
        log.info("truth: no section thickness in the truth's metadata; using the run's (%.3g px)", section_px)
    true_mid = float(section_px) / 2
    rng = np.random.default_rng(settings.seed)
    ours_parts, null_parts, matched_all = [], [[] for _ in range(settings.null_draws)], []
    cover = {"z": [], "depth": [], "R": []}
    for rec in reconstructions:
        cells = rec.cells
        i, j = fidelity.match(cells[["x", "y"]].to_numpy(float), table[["x", "y"]].to_numpy(float),
                              table["r"].to_numpy(float))
        if not len(i):
            continue
        ours, truth = cells.iloc[i].reset_index(drop=True), table.iloc[j].reset_index(drop=True)
        model = rec.geometry.model
        m = Matched(ours, truth, float(np.mean(rec.section)), true_mid, float(model.alpha), float(model.beta),
                    rec.section)
        ctx = None
        if volume is not None:
            step = float(meta["voxel_px"])
            # a volume without its first slice's depth is taken as centred on the section
            z0 = float(meta.get("volume_z0_px", true_mid - volume.shape[0] * step / 2))
            ctx = (volume, step, z0, rec.image_shape[:2])
        rho = ours["rho" if "rho" in ours else "r"].to_numpy(float)
        ours_parts.append(_metrics(m, ours["z"].to_numpy(float), ours["R"].to_numpy(float), rho, ctx))
        r = ours["r"].to_numpy(float)
        for d in range(settings.null_draws):
            z = rng.uniform(*m.section, len(r))
            R = rng.uniform(m.alpha * r, m.beta * r)
            null_parts[d].append(_metrics(m, z, R, r, ctx))
        for name, true_values in (("z", truth["z"]), ("depth", np.abs(truth["z"] - true_mid)), ("R", truth["R"])):
            if f"{name}_lo" in ours:
                cover[name].append((true_values.to_numpy(), ours[f"{name}_lo"].to_numpy(), ours[f"{name}_hi"].to_numpy()))
        matched_all.append(m)
    if not ours_parts:
        raise AnalysisError("truth: no reconstructed nucleus matches a nucleus of the truth table")
    truth_all = pd.concat([m.truth for m in matched_all], ignore_index=True)
    ours = _pooled(ours_parts)
    scores = _scores(ours, truth_all, true_mid)
    nulls = [_scores(_pooled(parts), truth_all, true_mid) for parts in null_parts]
    cis = {
        "R_rank": _interval([ours["R"], truth_all["R"].to_numpy()], fidelity.rank_correlation, settings.bootstrap, settings.seed),
        "depth_rank": _interval([ours["depth"], np.abs(truth_all["z"].to_numpy() - true_mid)], fidelity.rank_correlation,
                                settings.bootstrap, settings.seed),
        "R_over_r_rank": _interval([ours["R_over_r"], (truth_all["R"] / truth_all["r"]).to_numpy()],
                                   fidelity.rank_correlation, settings.bootstrap, settings.seed),
    }
    if "jaccard" in ours:
        cis["jaccard"] = _interval([ours["jaccard"]], np.nanmean, settings.bootstrap, settings.seed)
    rows = []
    for key, value in scores.items():
        null = np.array([n[key] for n in nulls], float)
        lo, hi = cis.get(key, (float("nan"), float("nan")))
        rows.append({"metric": key, "run": value, "run_lo": lo, "run_hi": hi, "null": float(np.nanmean(null)),
                     "null_lo": float(np.nanpercentile(null, 2.5)), "null_hi": float(np.nanpercentile(null, 97.5))})
    for name, parts in cover.items():
        if parts:
            t, lo, hi = (np.concatenate(p) for p in zip(*parts))
            rows.append({"metric": f"coverage90_{name}", "run": fidelity.coverage(t, lo, hi), "null": np.nan})
    rows.append({"metric": "n_matched", "run": float(len(truth_all)), "null": np.nan})
    return pd.DataFrame(rows), matched_all


def _figure(matched: list[Matched], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for m in matched:
        axes[0].scatter(m.truth["R"], m.ours["R"], s=4, alpha=0.5)
        axes[1].scatter(np.abs(m.truth["z"] - m.true_mid), np.abs(m.ours["z"] - m.mid), s=4, alpha=0.5)
    axes[0].set(xlabel="true cell radius R (px)", ylabel="reconstructed R (px)", title="cell size")
    axes[1].set(xlabel="true distance from mid-plane (px)", ylabel="reconstructed (px)", title="depth")
    fig.tight_layout()
    save_figure(fig, path)


@hookimpl
def cellframe_stages():
    return [Stage("analysis", "truth", TruthSettings, "reconstructions against a simulated truth (python -m cellframe simulate)")]


@hookimpl
def cellframe_analyze(reconstructions, outdir, settings):
    from cellframe.physics.simulate import read_truth

    if not settings.table:
        raise AnalysisError("truth: give analysis.truth.table=PATH/truth.parquet")
    from cellframe.physics.simulate import SimulationError

    try:
        table, meta = read_truth(settings.table)
    except SimulationError as exc:
        raise AnalysisError(f"truth: {exc}") from exc
    for key in ("section_px", "voxel_px", "volume_z0_px"):
        if getattr(settings, key) is not None:
            meta[key] = getattr(settings, key)
    volume = None
    volume_path = Path(settings.volume) if settings.volume else Path(settings.table).with_name("truth.ome.tif")
    if volume_path.is_file() and "voxel_px" in meta:
        import tifffile

        volume = tifffile.imread(volume_path)
    elif volume_path.is_file():
        log.warning("truth: %s has no voxel size in the truth's metadata; give analysis.truth.voxel_px "
                    "(and volume_z0_px) to score the 3D label volume", volume_path)
    result, matched = evaluate(reconstructions, table, meta, settings, volume)
    with atomic_path(outdir / "truth_metrics.csv") as tmp:
        result.to_csv(tmp, index=False)
    _figure(matched, outdir / "truth_scatter.png")
    lines = [f"{'metric':<20}{'run':>8}  {'[95% CI]':<16}{'null':>8}"]
    for row in result.itertuples():
        ci = f"[{row.run_lo:.2f}, {row.run_hi:.2f}]" if np.isfinite(getattr(row, "run_lo", np.nan)) else ""
        lines.append(f"{row.metric:<20}{row.run:>8.3f}  {ci:<16}{row.null:>8.3f}")
    log.info("truth: the run against the simulated truth, beside the null\n%s", "\n".join(lines))
    metrics = {}
    for row in result.itertuples():
        metrics[row.metric] = float(row.run)
        if np.isfinite(row.null):
            metrics[f"{row.metric}_null"] = float(row.null)
    return metrics
