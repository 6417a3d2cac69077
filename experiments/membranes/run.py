"""A membrane term, tried: cell profiles from the membranes the image shows, against space filling.

The eosin channel (colour deconvolution) is ridge-filtered (Sato) and flooded
from each nucleus centre (watershed): each cell's visible profile. A sphere
cell of radius ``R`` whose centre lies ``h`` from the mid-plane cuts it in a
disc of area ``pi (R^2 - h^2)``, so ``R_membrane = sqrt(A / pi + h^2)`` with
``h`` from the evidence objective's depths. Compared with the objective's
space-filling ``R`` against the simulator's truth (rank correlation).

    python experiments/membranes/run.py
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from skimage import io
from skimage.color import rgb2hed
from skimage.filters import sato
from skimage.segmentation import watershed

from cellframe.running.studies import study_config

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from truth_runs import score, simulate  # noqa: E402

cfg = study_config(HERE)
rows = []
with tempfile.TemporaryDirectory() as tmpdir:
    tmp = Path(tmpdir)
    for seed in cfg.seeds:
        sim = simulate(tmp / f"sim_{seed}", seed, dict(cfg.simulate), tmp)
        out = tmp / f"run_{seed}"
        score(sim, out, dict(cfg.run), tmp)
        cells = pd.read_parquet(next(out.glob("*/cells.parquet"))).set_index("label")
        truth = pd.read_parquet(sim / "truth.parquet").set_index("label").loc[cells.index]
        image = io.imread(sim / "image.png")[..., :3]
        ridge = sato(rgb2hed(image)[..., 1], sigmas=list(cfg.ridge_sigmas), black_ridges=False)
        markers = np.zeros(image.shape[:2], np.int32)
        rr = cells["y"].round().astype(int).clip(0, image.shape[0] - 1)
        cc = cells["x"].round().astype(int).clip(0, image.shape[1] - 1)
        markers[rr, cc] = cells.index.to_numpy()
        profiles = watershed(ridge, markers)
        area = np.bincount(profiles.ravel(), minlength=int(cells.index.max()) + 1)[cells.index.to_numpy()]
        mid = 0.5 * float(cfg.run["model.z_max"])  # the mid-plane of the 4 um (16 px) section
        h = (cells["z"] - mid).abs().to_numpy()
        r_membrane = np.sqrt(area / np.pi + h**2)
        rows.append({"seed": seed, "n_cells": len(cells),
                     "space filling R rank": spearmanr(cells["R"], truth["R"]).statistic,
                     "membrane R rank": spearmanr(r_membrane, truth["R"]).statistic,
                     "both (geometric mean) R rank": spearmanr(np.sqrt(r_membrane * cells["R"]), truth["R"]).statistic})
        print(rows[-1], flush=True)
table = pd.DataFrame(rows)
means = table.drop(columns=["seed"]).mean()
text = ("| seed | cells | space filling R rank | membrane R rank | both |\n|---|---|---|---|---|\n"
        + "\n".join(f"| {int(r.seed)} | {int(r.n_cells)} | {r['space filling R rank']:.3f} | {r['membrane R rank']:.3f} | "
                    f"{r['both (geometric mean) R rank']:.3f} |" for _, r in table.iterrows())
        + f"\n| mean | {means['n_cells']:.0f} | {means['space filling R rank']:.3f} | {means['membrane R rank']:.3f} | "
          f"{means['both (geometric mean) R rank']:.3f} |\n")
print(text)
(HERE / "results.md").write_text(text)
