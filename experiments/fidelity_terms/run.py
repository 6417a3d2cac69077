"""Ablation of the evidence objective: each term switched off in turn, against known truth.

For every scenario and seed: ``python -m cellframe simulate``, then one run per variant with
``analysis=[truth]``; the table gives each metric's mean over seeds.

    python experiments/fidelity_terms/run.py
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
with tempfile.TemporaryDirectory() as tmpdir:
    tmp = Path(tmpdir)
    for scenario, settings in cfg.scenarios.items():
        for seed in cfg.seeds:
            sim = simulate(tmp / f"{scenario}_{seed}", seed, dict(settings), tmp)
            for k, (variant, overrides) in enumerate(cfg.variants.items()):
                metrics = score(sim, tmp / f"{scenario}_{seed}_{k}", {**cfg.run, **overrides}, tmp)
                rows.append(metrics[["metric", "run"]].assign(scenario=scenario, seed=seed, variant=variant))
                print(scenario, seed, variant, "done", flush=True)

table = pd.concat(rows, ignore_index=True)
table.to_csv(HERE / "results.csv", index=False)
lines = []
for scenario, part in table.groupby("scenario", sort=False):
    means = part.pivot_table(index="variant", columns="metric", values="run", aggfunc="mean")
    means = means.loc[list(cfg.variants), list(cfg.metrics)]
    lines += [f"### {scenario} (mean over seeds {list(cfg.seeds)})", "",
              "| variant | " + " | ".join(cfg.metrics) + " |", "|---|" + "---|" * len(cfg.metrics)]
    lines += [f"| {variant} | " + " | ".join(f"{means.loc[variant, m]:.3f}" for m in cfg.metrics) + " |"
              for variant in means.index]
    lines.append("")
text = "\n".join(lines)
print(text)
(HERE / "results.md").write_text(text)
