"""A finished patch's resume state as plain data: reading it back never runs code.

Files in the patch folder (all written before the done marker):

* ``state/nuclei.parquet`` and, where present, ``state/extra.parquet``,
  ``state/feasibility.parquet``, ``state/spread.parquet``: the tables;
* ``state/arrays.npz`` (read with ``allow_pickle=False``): the solution
  vector ``x``, the convergence ``history``, the segmenter's ``labels`` and
  the objective's visible ``tissue``;
* ``state/state.json``: every other field, the digest of the config and
  versions that made it, and the SHA-256 of each file above.

The geometry is rebuilt from the nuclei and the plan's settings through the
registry, as the run built it. A state whose digest, file hashes or contents
do not check out is ignored (the patch is recomputed), never trusted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from cellframe.io.files import atomic_path
from cellframe.model.reconstruction import Reconstruction
from cellframe.io.slides import SlideRegion

FOLDER = "state"
#: written last, in the patch folder: the patch finished (and with which digest)
MARKER = ".cellframe-done.json"
TABLES = ("nuclei", "extra", "feasibility", "spread")
SCALARS = ("sample_id", "penalties", "plane_z", "image_shape", "source", "timings", "optimizer", "patient",
           "section", "depth_range", "segmentation", "evidence")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _plain(value):
    """JSON-safe copy of numbers, strings, lists and dicts (numpy scalars become Python ones)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_state(rec: Reconstruction, folder: Path, digest: str) -> None:
    """Write ``rec``'s resume state under ``folder/state/``."""
    where = Path(folder) / FOLDER
    where.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in TABLES:
        table = getattr(rec, name)
        if table is None:
            continue
        path = where / f"{name}.parquet"
        with atomic_path(path) as tmp:
            table.reset_index(drop=True).to_parquet(tmp, index=False)
        files[path.name] = _sha256(path)
    arrays = {"x": np.asarray(rec.x, float), "history": np.asarray(rec.history, float)}
    if rec.labels is not None:
        arrays["labels"] = np.asarray(rec.labels)
    if rec.tissue is not None:
        arrays["tissue"] = np.asarray(rec.tissue, bool)
    path = arrays_file(folder)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    files[path.name] = _sha256(path)
    meta = {key: _plain(getattr(rec, key)) for key in SCALARS}
    meta["region"] = None if rec.region is None else {k: (str(v) if isinstance(v, Path) else _plain(v))
                                                       for k, v in dataclasses.asdict(rec.region).items()}
    with atomic_path(where / "state.json") as tmp:
        tmp.write_text(json.dumps({"digest": digest, "files": files, "fields": meta}))


def load_state(folder: Path, digest: str, rebuild_geometry) -> Reconstruction | None:
    """The reconstruction saved under ``folder/state/`` with ``digest``, else None.

    :param rebuild_geometry: ``rebuild_geometry(nuclei)`` -> the run's geometry over those nuclei.
    """
    where = Path(folder) / FOLDER
    try:
        state = json.loads((where / "state.json").read_text())
        if not isinstance(state, dict) or state.get("digest") != digest:
            return None
        files = state["files"]
        if any(_sha256(where / name) != sha for name, sha in files.items()):
            return None
        tables = {name: pd.read_parquet(where / f"{name}.parquet") if f"{name}.parquet" in files else None
                  for name in TABLES}
        with np.load(arrays_file(folder), allow_pickle=False) as arrays:
            x, history = arrays["x"], arrays["history"]
        fields = state["fields"]
        region = None
        if fields["region"]:
            saved = fields["region"]
            region = SlideRegion(**{**saved, "slide": Path(saved["slide"]),
                                    "annotations": tuple(saved["annotations"]) if saved.get("annotations") else None})
        geometry = rebuild_geometry(tables["nuclei"])
        if len(x) != geometry.dim:
            return None
        rec = Reconstruction(
            sample_id=fields["sample_id"], nuclei=tables["nuclei"], geometry=geometry, x=x, history=history,
            penalties=fields["penalties"], plane_z=fields["plane_z"], image_shape=tuple(fields["image_shape"]),
            source=fields["source"], timings=fields["timings"], optimizer=fields["optimizer"],
            feasibility=tables["feasibility"], spread=tables["spread"], patient=fields["patient"], region=region,
            section=tuple(fields["section"]), depth_range=tuple(fields["depth_range"]),
            extra=tables["extra"], segmentation=fields["segmentation"], evidence=fields["evidence"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    rec.keep_on_disk(arrays_file(folder))  # the label image and tissue are read back when used
    return rec


def arrays_file(folder: Path) -> Path:
    """The ``.npz`` of a patch's saved state holding ``x``, ``history``, ``labels`` and ``tissue``."""
    return Path(folder) / FOLDER / "arrays.npz"
