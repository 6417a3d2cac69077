"""cellframe on sections from a second, independent simulator and renderer (``render.py``).

For every scenario (the renderer's settings; ``foreign`` differs from cellframe's own simulator in
every way at once, the others put one difference back) and seed: render, then a run with each
variant (the paper's objective, ``evidence``, ``evidence`` with geometric outlines) and ``analysis=[truth]`` on the renderer's HoVer-Net outlines and JPEG, through the
command line a user types. Writes ``results.md`` and ``results.csv``.

    python experiments/foreign_render/run.py
"""

import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from cellframe.running.studies import study_config

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from render import ForeignConfig, write_foreign  # noqa: E402
from truth_runs import cellframe  # noqa: E402

cfg = study_config(HERE)


def one(job):
    scenario, seed, tmp = job
    settings = {k: (tuple(v) if isinstance(v, list) else v)
                for k, v in OmegaConf.to_container(cfg.scenarios[scenario]).items()}
    fc = replace(ForeignConfig(seed=seed), **settings)
    sim = write_foreign(fc, tmp / f"{scenario}_{seed}")
    image = sim / ("image.jpg" if fc.jpeg_quality else "image.png")
    rows = []
    for k, (variant, overrides) in enumerate(cfg.variants.items()):
        out = tmp / f"{scenario}_{seed}_{k}"
        args = {"input.image": image, "input.mask": sim / "nuclei.json", "analysis": "[truth]",
                "analysis.truth.table": sim / "truth.csv", "output_dir": out, "input.mpp": fc.mpp,
                "model.section_um": fc.section_um, "model.z_max": f"{fc.section_um / fc.mpp:g}",
                **cfg.run, **overrides}
        cellframe([f"{key}={'null' if v is None else v}" for key, v in args.items()], tmp)
        metrics = pd.read_csv(out / "analysis" / "truth" / "truth_metrics.csv")
        rows.append(metrics.assign(scenario=scenario, seed=seed, variant=variant))
    print(scenario, seed, "done", flush=True)
    return pd.concat(rows, ignore_index=True)


with tempfile.TemporaryDirectory() as tmpdir:
    jobs = [(s, seed, Path(tmpdir)) for s in cfg.scenarios for seed in cfg.seeds]
    with ThreadPoolExecutor(2) as pool:  # each job is two processes in turn: the renderer, then cellframe
        table = pd.concat(pool.map(one, jobs), ignore_index=True)

table.to_csv(HERE / "results.csv", index=False)
means = table.pivot_table(index=["scenario", "variant"], columns="metric", values="run", aggfunc="mean")
nulls = table[table.variant == "evidence"].pivot_table(index="scenario", columns="metric", values="null")
lines = ["| scenario | " + " | ".join(cfg.metrics) + " |", "|---|" + "---|" * len(cfg.metrics)]
for scenario in cfg.scenarios:
    for variant in cfg.variants:
        cells = [f"{means.loc[(scenario, variant), m]:.3f}" if pd.notna(means.loc[(scenario, variant), m]) else "-"
                 for m in cfg.metrics]
        lines.append(f"| {scenario}: {variant} | " + " | ".join(cells) + " |")
    cells = [f"{nulls.loc[scenario, m]:.3f}" if m in nulls and pd.notna(nulls.loc[scenario, m]) else "-"
             for m in cfg.metrics]
    lines.append(f"| {scenario}: null | " + " | ".join(cells) + " |")
text = f"Mean over seeds {list(cfg.seeds)}; null: random z and R within the paper's bounds.\n\n" + "\n".join(lines) + "\n"
print(text)
(HERE / "results.md").write_text(text)
