"""Per-gene cross-validated AUROC of N/C features for mutation status (demo tables).

    python experiments/mutation/run.py
"""

from pathlib import Path


from cellframe.stats.cohort import join_patients, read_features, read_mutations
from cellframe.plugins.analyses.mutation import forest_plot, mutation_auroc
from cellframe.running.studies import study_config

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

cfg = study_config(HERE)
features = read_features(REPO / cfg.features)
status = read_mutations(REPO / cfg.status)
shared = join_patients(features, status, what="mutation")[0]
table = mutation_auroc(features, status, cfg.folds, cfg.seed, cfg.repeats, cfg.permutations)
passing = table[table["qvalue"] < cfg.fdr]
lines = [f"{len(features)} samples with features, {len(status)} with calls, {len(shared)} patients in both; "
         f"{cfg.folds}-fold stratified CV by patient repeated {cfg.repeats} times, class-balanced logistic "
         f"regression; p from {cfg.permutations} label permutations, BH q across genes", "",
         "| gene | mutated | wild type | AUROC median [95 % over repeats] | p | q |", "|---|---|---|---|---|---|"]
lines += [f"| {r.gene} | {r.n_mutated} | {r.n_wildtype} | {r.auroc_median:.3f} [{r.auroc_low:.3f}, {r.auroc_high:.3f}] | "
          f"{r.pvalue:.2f} | {r.qvalue:.2f} |" for r in table.itertuples()]
lines += ["", f"genes with q < {cfg.fdr}: {', '.join(passing['gene']) or 'none'}"]
text = "\n".join(lines) + "\n"
print(text)
(HERE / "results.md").write_text(text)
forest_plot(table, cfg.threshold, HERE / "mutation.png")
