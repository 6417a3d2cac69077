"""Patient-level tables: reading clinical and feature tables, TCGA barcodes, per-patient features."""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from cellframe.stats.analysis import AnalysisError
from cellframe.model.nc import FORMS, shannon_entropy

log = logging.getLogger(__name__)


def patient_id(sample_id: str) -> str:
    """The patient of a sample: the 12-character TCGA barcode prefix (``TCGA-XX-XXXX``), else the id."""
    sample_id = str(sample_id)
    return sample_id[:12] if sample_id.upper().startswith("TCGA-") and len(sample_id) >= 12 else sample_id


def read_table(path: str | Path, header: bool | None = None) -> pd.DataFrame:
    """Read a comma-, semicolon- (Excel in many locales) or whitespace-separated text table (a UTF-8
    byte-order mark dropped); ``header=None`` guesses from the first row."""
    path = Path(path)
    if not path.is_file():
        raise AnalysisError(f"table not found: {path}")
    first = path.read_text(encoding="utf-8-sig").splitlines()[0] if path.stat().st_size else ""
    sep = next((s for s in (",", ";") if s in first), r"\s+")
    if header is None:
        fields = [f for f in (first.split(sep) if sep != r"\s+" else first.split()) if f]
        header = not any(_is_number(f) for f in fields[1:])
    return pd.read_csv(path, sep=sep, header=0 if header else None, engine="python", encoding="utf-8-sig")


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def read_features(path: str | Path, names: list[str] | None = None) -> pd.DataFrame:
    """Features per sample: first column the sample id, the rest numbers (``f1, f2, ...`` when unnamed)."""
    table = read_table(path)
    if all(isinstance(c, (int, np.integer)) for c in table.columns):  # no header row
        table.columns = ["sample_id"] + (names or [f"f{k}" for k in range(1, table.shape[1])])
    return table.rename(columns={table.columns[0]: "sample_id"}).set_index("sample_id")


def read_survival(path: str | Path, time: str = "time", event: str = "status") -> pd.DataFrame:
    """Survival per sample: columns ``time`` and ``event`` (1 = death)."""
    table = read_table(path, header=True)
    missing = [c for c in (time, event) if c not in table.columns]
    if missing:
        raise AnalysisError(f"{path}: survival table lacks columns {missing}")
    table = table.rename(columns={table.columns[0]: "sample_id", time: "time", event: "event"})
    return table.set_index("sample_id")[["time", "event"]]


def read_matrix(path: str | Path) -> pd.DataFrame:
    """A ``row_name sample1 sample2 ...`` matrix (genes x samples, stages x samples), as samples x rows."""
    table = read_table(path, header=True)
    return table.set_index(table.columns[0]).T.rename_axis("sample_id")


def read_mutations(path: str | Path) -> pd.DataFrame:
    """A genes x samples table of 0/1 calls, as samples x genes.

    Some exported tables lose the separator between neighbouring calls
    (``1 0`` written as ``10``); such runs of 0/1 digits in a row shorter than
    the header are split back into single calls, and the row must then match
    the header exactly.
    """
    path = Path(path)
    if not path.is_file():
        raise AnalysisError(f"table not found: {path}")
    lines = [line.replace(",", " ").split() for line in path.read_text().splitlines() if line.strip()]
    header, rows = lines[0][1:], {}
    for number, tokens in enumerate(lines[1:], start=2):
        values = tokens[1:]
        if len(values) < len(header):
            values = [digit for token in values for digit in (token if set(token) <= {"0", "1"} else [token])]
        if len(values) != len(header):
            raise AnalysisError(f"{path} line {number} ({tokens[0]}): {len(values)} values for {len(header)} samples")
        rows[tokens[0]] = pd.to_numeric(pd.Series(values, index=header), errors="coerce")
    return pd.DataFrame(rows).rename_axis("sample_id")


def sample_type(sample_id: str) -> str | None:
    """The TCGA sample type of a barcode (``01`` in ``TCGA-XX-XXXX-01A``; ``11`` = solid normal), else None."""
    parts = str(sample_id).split("-")
    if len(parts) >= 4 and parts[0].upper() == "TCGA" and parts[3][:2].isdigit():
        return parts[3][:2]
    return None


def one_per_patient(table: pd.DataFrame, what: str, sample_types: tuple[str, ...] = ("01",),
                    patients: set | None = None) -> pd.DataFrame:
    """Rows by patient: samples of other TCGA types dropped (ids without a type are kept); a
    patient's duplicated rows kept once when they agree and refused, naming them, when they don't
    (checked for ``patients`` only, when given)."""
    types = [sample_type(i) for i in table.index]
    table = table[[t is None or t in sample_types for t in types]]
    by = table.index.map(patient_id)
    for patient, group in table.groupby(by):
        if len(group) > 1 and (patients is None or patient in patients) and len(group.drop_duplicates()) > 1:
            raise AnalysisError(f"{what}: patient {patient} has {len(group)} samples with different values "
                                f"({', '.join(map(str, group.index))}); keep one per patient")
    return table.groupby(by).first()


def join_patients(*tables: pd.DataFrame, what: str, minimum: int = 2,
                  sample_types: tuple[str, ...] = ("01",)) -> list[pd.DataFrame]:
    """Restrict tables to the patients they all share (matched by TCGA barcode, one sample per
    patient: :func:`one_per_patient`); a clear error when too few do."""
    types = tuple(sample_types)
    shared = set.intersection(*(set(one_per_patient(t, what, types, set()).index) for t in tables))
    patient_tables = [one_per_patient(t, what, types, shared) for t in tables]
    shared = sorted(shared)
    sizes = " and ".join(str(len(t)) for t in patient_tables)
    if len(shared) < minimum:
        raise AnalysisError(f"{what}: the tables ({sizes} patients) share {len(shared)} patient ids; "
                            f"at least {minimum} are needed")
    log.info("%s: %d patients matched (the tables hold %s)", what, len(shared), sizes)
    return [t.loc[shared] for t in patient_tables]


def patch_row(rec, bins: int = 20) -> dict:
    """N/C features of one patch: entropy and mean of each N/C form, cell counts, and the share
    of cells that reach the cut plane (the area form is undefined for the others); of the patch's own
    cells (``rec.owned``: not a slide patch's halo)."""
    ratios = rec.nc_ratios[rec.owned]
    row = {f"nc_entropy_{form}": shannon_entropy(ratios[form], bins) for form in FORMS}
    row |= {f"nc_mean_{form}": float(np.nanmean(ratios[form])) if ratios[form].notna().any() else np.nan
            for form in FORMS}
    row["n_cells"] = len(ratios)
    row["share_at_plane"] = float(ratios["area"].notna().mean()) if len(ratios) else np.nan
    return row


def patient_of(rec) -> str:
    """A reconstruction's patient: ``rec.patient``, else the patient of its sample id."""
    return getattr(rec, "patient", None) or patient_id(rec.sample_id)


def per_patient(rows: dict[str, dict], reconstructions) -> pd.DataFrame:
    """Patch rows (by sample id) averaged over each patient's patches, with ``nc_entropy``."""
    patients = {rec.sample_id: patient_of(rec) for rec in reconstructions}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table = table.groupby(table.index.map(patients)).mean(numeric_only=True)
    table["nc_entropy"] = table["nc_entropy_radius"]
    return table.rename_axis("sample_id")


def patch_features(reconstructions, bins: int = 20) -> pd.DataFrame:
    """N/C features per patient (:func:`patch_row` averaged over each patient's patches;
    ``reconstruction.patient``, else the sample id's patient)."""
    return per_patient({rec.sample_id: patch_row(rec, bins) for rec in reconstructions}, reconstructions)


def seed_for(seed: int, key: str, sample: int = 0) -> np.random.Generator:
    """A generator that depends on a seed, a name (patch id) and a sample number, not on call order."""
    entropy = [int(seed), zlib.crc32(key.encode("utf-8"))]
    return np.random.default_rng(entropy + [sample] if sample else entropy)
