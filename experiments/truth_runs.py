"""What the fidelity studies share: the command line, and a simulated section scored against its truth."""

import subprocess
import sys
from pathlib import Path

import pandas as pd


def cellframe(args: list[str], cwd: Path) -> None:
    """``python -m cellframe ARGS``, as a user types it; stops the study with its error if it fails."""
    done = subprocess.run([sys.executable, "-m", "cellframe", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"cellframe {' '.join(args)} failed:\n{done.stderr[-3000:]}")


def simulate(folder: Path, seed: int, settings: dict, cwd: Path) -> Path:
    """A known-truth section in ``folder``: ``python -m cellframe simulate``, or with ``renderer: foreign``
    the second simulator's (``foreign_render/render.py``; the other keys are its ``ForeignConfig``)."""
    settings = dict(settings)
    if settings.pop("renderer", "cellframe") == "foreign":
        sys.path.insert(0, str(Path(__file__).resolve().parent / "foreign_render"))
        from render import ForeignConfig, write_foreign

        write_foreign(ForeignConfig(seed=seed, **settings), folder)
        return folder
    cellframe(["simulate", f"seed={seed}", f"output_dir={folder}", *(f"{k}={v}" for k, v in settings.items())], cwd)
    return folder


def score(sim: Path, out: Path, settings: dict, cwd: Path) -> pd.DataFrame:
    """Reconstruct a simulated section from its image and HoVer-Net outlines with ``analysis=[truth]``;
    the truth metrics (``metric``, ``run``, ``null``, ...), the patch's seconds and, where the focus term
    ran, whether it was used and its focal plane."""
    image = sim / "image.png" if (sim / "image.png").is_file() else sim / "image.jpg"
    truth = sim / "truth.parquet" if (sim / "truth.parquet").is_file() else sim / "truth.csv"
    args = {"input.image": image, "input.mask": sim / "nuclei.json", "analysis": "[truth]",
            "analysis.truth.table": truth, "output_dir": out, **settings}  # settings may replace the mask
    cellframe([f"{k}={'null' if v is None else v}" for k, v in args.items()], cwd)
    metrics = pd.read_csv(out / "analysis" / "truth" / "truth_metrics.csv")
    summary = pd.read_csv(out / "summary.csv").iloc[0]
    extra = [{"metric": "seconds_per_patch", "run": float(summary["total_seconds"])}]
    extra += [{"metric": key, "run": float(summary[key])} for key in ("focus_used", "focus_plane_um") if key in summary]
    return pd.concat([metrics, pd.DataFrame(extra)], ignore_index=True)


def variants_study(cfg, here: Path) -> str:
    """For every scenario and seed of a study config, one run per variant (objective overrides) against
    the truth; writes ``results.csv`` and ``results.md`` (each metric's mean over seeds) in ``here``."""
    import tempfile

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
    table.to_csv(here / "results.csv", index=False)
    text = variants_tables(table, cfg)
    (here / "results.md").write_text(text)
    return text


def variants_tables(table: pd.DataFrame, cfg) -> str:
    """One markdown table per scenario of a variants study's ``results.csv``: each metric's mean over seeds
    ("-" where a scenario has no such metric, e.g. no truth volume)."""
    lines = []
    for scenario, part in table.groupby("scenario", sort=False):
        means = part.pivot_table(index="variant", columns="metric", values="run", aggfunc="mean")
        means = means.reindex(index=list(cfg.variants), columns=list(cfg.metrics))
        lines += [f"### {scenario} (mean over seeds {list(cfg.seeds)})", "",
                  "| variant | " + " | ".join(cfg.metrics) + " |", "|---|" + "---|" * len(cfg.metrics)]
        lines += [f"| {variant} | " + " | ".join("-" if pd.isna(v) else f"{v:.3f}" for v in means.loc[variant]) + " |"
                  for variant in means.index]
        lines.append("")
    return "\n".join(lines)
