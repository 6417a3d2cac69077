"""N/C feature against TNM T, N and M categories: Mann-Whitney / Kruskal-Wallis with effect sizes.

    python experiments/stage/run.py
"""

from pathlib import Path

from omegaconf import OmegaConf

from cellframe.cohort import read_features, read_matrix
from cellframe.plugins.stage import box_plots, stage_association

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

cfg = OmegaConf.load(HERE / "config.yaml")
values = read_features(REPO / cfg.features)[cfg.feature]
stages = read_matrix(REPO / cfg.stages)
table = stage_association(values, stages)
lines = [f"{len(stages)} staged samples", "", "| stage | categories | test | statistic | p | effect | effect size | n |",
         "|---|---|---|---|---|---|---|---|"]
lines += [f"| {r.stage} | {r.categories} | {r.test} | {r.statistic:.3f} | {r.pvalue:.3f} | {r.effect:.3f} | "
          f"{r.effect_size} | {r.n} |" for r in table.itertuples()]
text = "\n".join(lines) + "\n"
print(text)
(HERE / "results.md").write_text(text)
box_plots(values, stages, table, HERE / "stage.png")
