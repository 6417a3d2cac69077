"""Ablation of the evidence objective: each term switched off in turn, against known truth.

For every scenario and seed: ``python -m cellframe simulate``, then one run per variant with
``analysis=[truth]``; the table gives each metric's mean over seeds.

    python experiments/fidelity_terms/run.py
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

HERE = Path(__file__).resolve().parent
cfg = OmegaConf.load(HERE / "config.yaml")


def cellframe(args: list[str], cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "cellframe", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"cellframe {' '.join(args)} failed:\n{done.stderr[-3000:]}")


rows = []
with tempfile.TemporaryDirectory() as tmpdir:
    tmp = Path(tmpdir)
    for scenario, simulate in cfg.scenarios.items():
        for seed in cfg.seeds:
            sim = tmp / f"{scenario}_{seed}"
            cellframe(["simulate", f"seed={seed}", f"output_dir={sim}", *(f"{k}={v}" for k, v in simulate.items())], tmp)
            for k, (variant, overrides) in enumerate(cfg.variants.items()):
                out = tmp / f"{scenario}_{seed}_{k}"
                cellframe([f"input.image={sim / 'image.png'}", f"input.mask={sim / 'nuclei.json'}", "analysis=[truth]",
                           f"analysis.truth.table={sim / 'truth.parquet'}", f"output_dir={out}",
                           *(f"{key}={value}" for key, value in {**cfg.run, **overrides}.items())], tmp)
                metrics = pd.read_csv(out / "analysis" / "truth" / "truth_metrics.csv")[["metric", "run"]]
                rows.append(metrics.assign(scenario=scenario, seed=seed, variant=variant))
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
