"""What one H&E section can tell: both objectives against simulated truth.

For every scenario and seed: ``python -m cellframe simulate``, then a run with
each objective and ``analysis=[truth]`` on the simulator's HoVer-Net outlines
and image, through the same command line a user types. Writes ``results.md``
(mean and range over seeds of each metric, beside the null) and
``results.csv``.

    python experiments/fidelity/run.py
"""

import sys
import tempfile
from pathlib import Path

import pandas as pd

from cellframe.running.studies import study_config

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from truth_runs import score, simulate  # noqa: E402

cfg = study_config(HERE)


rows = []
with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    for scenario, spec in cfg.scenarios.items():
        run = {**cfg.run, **spec.run}
        for seed in cfg.seeds:
            sim = simulate(tmp / f"{scenario}_{seed}", seed, dict(spec.simulate), tmp)
            for objective in cfg.objectives:
                metrics = score(sim, tmp / f"{scenario}_{seed}_{objective}", {**run, "objective": objective}, tmp)
                metrics["scenario"], metrics["seed"], metrics["objective"] = scenario, seed, objective
                rows.append(metrics)
                print(scenario, seed, objective, "done", flush=True)

table = pd.concat(rows, ignore_index=True)
table.to_csv(HERE / "results.csv", index=False)
order = ["R_rank", "R_over_r_rank", "depth_rank", "order", "order_mirror", "nc_ks", "jaccard", "dice",
         "coverage90_z", "coverage90_depth", "coverage90_R", "seconds_per_patch", "n_matched"]
lines = []
for scenario, part in table.groupby("scenario", sort=False):
    lines += [f"### {scenario} ({len(cfg.seeds)} seeds; mean, [min, max] over seeds)", "",
              "| metric | cellsqueeze3d (paper) | evidence | null (random within the paper's bounds) |", "|---|---|---|---|"]
    for metric in order:
        cells = []
        for objective in cfg.objectives:
            v = part[(part["objective"] == objective) & (part["metric"] == metric)]["run"]
            cells.append(f"{v.mean():.3f} [{v.min():.3f}, {v.max():.3f}]" if len(v) and v.notna().any() else "-")
        null = part[(part["objective"] == "evidence") & (part["metric"] == metric)]["null"]
        cells.append(f"{null.mean():.3f}" if null.notna().any() else "-")
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    lines.append("")
text = "\n".join(lines)
print(text)
(HERE / "results.md").write_text(text)
