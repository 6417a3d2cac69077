"""Each N/C feature of the demo patches against its own null, for the paper's objective and `evidence`.

For every objective and seed the two demo patches are segmented (the `mask`
segmenter, as a run calls it: cellframe.running.pipeline.segment) and reconstructed; every per-patch feature is
then tested against ``draws`` null reconstructions of the same nuclei
(cellframe.stats.feature_null: each cell's parameters uniform within the geometry's
bounds). A feature "carries something" when its Monte-Carlo p-value is at most
0.05 in every seed.

    python experiments/nc_null/run.py
"""

from pathlib import Path

import numpy as np
import pandas as pd
from skimage import io

from cellframe.config import ModelConfig
from cellframe.stats.feature_null import run_null_test
from cellframe.running.pipeline import segment
from cellframe.plugins.analyses.nc_ratio import per_patch, plot
from cellframe.plugins.geometries.sphere import SphereSettings
from cellframe.model.reconstruct import reconstruct
from cellframe.registry import default_registry
from cellframe.model.swarm import PSOSettings
from cellframe.running.studies import study_config

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent.parent / "data" / "tcga_brca"

cfg = study_config(HERE)
registry = default_registry()
settings = registry.stage("segmenter", "mask").schema()
patches = {}
for patch in cfg.patches:
    image = io.imread(DEMO / f"tcga_patch_{patch}.png")[..., :3]
    mask = io.imread(DEMO / f"tcga_patch_{patch}_nuclei_mask.png")
    patches[patch] = (image, segment(registry, settings, image, mask)[0])

rows, per_patch_rows = [], []
for objective in cfg.objectives:
    goal = registry.stage("objective", objective).schema()
    for seed in cfg.seeds:
        recs = [reconstruct(nuclei, registry=registry, model=ModelConfig(), geometry=SphereSettings(),
                            optimizer=PSOSettings(), rng=np.random.default_rng(seed), objective=goal,
                            image=image, sample_id=f"patch{patch}") for patch, (image, nuclei) in patches.items()]
        checks = run_null_test(recs, cfg.draws, seed, cfg.bins)
        rows.append(checks.reset_index().assign(objective=objective, seed=seed))
        table, cells = per_patch(recs, cfg.bins, cfg.draws, seed)
        per_patch_rows.append(table.assign(objective=objective, seed=seed))
        if seed == cfg.seeds[0]:
            plot(table, cells, HERE)
            (HERE / "nc_ratio.png").rename(HERE / f"nc_ratio_{objective}.png")
results = pd.concat(rows)
results.to_csv(HERE / "results.csv", index=False)
pd.concat(per_patch_rows).to_csv(HERE / "per_patch.csv", index=False)

features = [f for f in results["feature"].unique() if f != "nc_entropy"]
lines = [f"Monte-Carlo p-value of each per-patch feature against {cfg.draws} null reconstructions "
         f"(patches {list(cfg.patches)}; seeds {list(cfg.seeds)}: the largest p over seeds, and the verdict in every seed)", "",
         "| feature | " + " | ".join(f"{o} p (max)" for o in cfg.objectives) + " | "
         + " | ".join(f"{o} verdict" for o in cfg.objectives) + " |",
         "|---|" + "---|" * (2 * len(cfg.objectives))]
for feature in features:
    part = results[results["feature"] == feature]
    ps, verdicts = [], []
    for objective in cfg.objectives:
        mine = part[part["objective"] == objective]
        ps.append("-" if mine["pvalue"].isna().all() else f"{mine['pvalue'].max():.2f}")
        verdicts.append("/".join(sorted(mine["verdict"].unique())))
    lines.append(f"| {feature} | " + " | ".join(ps) + " | " + " | ".join(verdicts) + " |")
obs = pd.concat(per_patch_rows)
lines += ["", "| objective | N/C entropy r/R (per patch) | null (mean +- sd) | share of cells at the plane |", "|---|---|---|---|"]
for objective in cfg.objectives:
    mine = obs[obs["objective"] == objective]
    lines.append(f"| {objective} | {mine['entropy_radius'].min():.2f}-{mine['entropy_radius'].max():.2f} | "
                 f"{mine['null_entropy_radius_mean'].mean():.2f} +- {mine['null_entropy_radius_sd'].mean():.2f} | "
                 f"{(mine['n_at_plane'].sum() / mine['n_cells'].sum()):.2f} |")
text = "\n".join(lines) + "\n"
print(text)
(HERE / "results.md").write_text(text)
