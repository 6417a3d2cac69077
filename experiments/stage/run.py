"""N/C feature against TNM T, N and M categories: Mann-Whitney / Kruskal-Wallis, exact permutation
p-values, BH q-values and effect sizes with bootstrap intervals.

    python experiments/stage/run.py
"""

from pathlib import Path


from cellframe.stats.cohort import read_features, read_matrix
from cellframe.plugins.analyses.stage import box_plots, stage_patients, stage_tests
from cellframe.running.studies import study_config

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

cfg = study_config(HERE)
values = read_features(REPO / cfg.features)[cfg.feature]
stages = read_matrix(REPO / cfg.stages)
feats, stg = stage_patients(values, stages)
table = stage_tests(feats, stg)
lines = [f"{len(stages)} staged samples; permutation p-values (exact: every relabelling enumerated at this n), "
         "Benjamini-Hochberg q across the stage columns, 95 % bootstrap intervals of the effect "
         "(none where a category holds one patient)", "",
         "| stage | categories | test | statistic | p (exact) | q | effect [95 % CI] | effect size | n |",
         "|---|---|---|---|---|---|---|---|---|"]
lines += [f"| {r.stage} | {r.categories} | {r.test} | {r.statistic:.3f} | {r.pvalue:.3f} | {r.qvalue:.3f} | "
          f"{r.effect:.3f} [{r.effect_low:.2f}, {r.effect_high:.2f}] | {r.effect_size} | {r.n} |"
          for r in table.itertuples()]
text = "\n".join(lines) + "\n"
print(text)
(HERE / "results.md").write_text(text)
box_plots(feats, stg, table, HERE / "stage.png")
