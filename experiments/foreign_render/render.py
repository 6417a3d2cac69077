"""A second, independent tissue simulator and renderer, to test cellframe on images it was not built on.

It shares no code or modelling choice with ``cellframe.physics`` (only numpy, scipy, scikit-image
and Pillow), and differs from it on purpose wherever a real section may differ:

* nuclear radii are gamma distributed (not log-normal); nuclei are ellipsoids turned at random in 3D
  (not elongated in the image plane only), packed by random sequential addition;
* cells are the plain Voronoi partition of the nucleus centres (not a Laguerre partition weighted
  by nuclear size), cut off at a distance, with stroma as a 3D region;
* the section is rendered voxel by voxel: chromatin is clumped (a smooth 3D random texture) with a
  darker nuclear envelope, each 0.25 um slice is blurred by its own distance from the focal plane,
  membranes are drawn where cell boundaries cross any slice;
* colour from Macenko-like stain vectors (not scikit-image's Ruifrok & Johnston ones) over a tinted
  background with vignetting, shot noise, and a JPEG file.

Writes ``image.jpg``, ``mask.png`` (16-bit labels of the visible profiles), ``nuclei.json``
(HoVer-Net contours), ``cellular.png`` (the share of each pixel's column inside cells, 0-255), ``truth.csv`` (``label, x, y, z, r, cell_volume, profile_r``, pixels, ``z`` from
the section's top face) and ``simulation.json`` (``section_px``, ``mpp``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy.ndimage import gaussian_filter, map_coordinates
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation
from skimage.measure import find_contours

STAINS = {"macenko": (np.array([0.5626, 0.7201, 0.4062]), np.array([0.2159, 0.8012, 0.5581])),  # Macenko et al.
          "ruifrok": (np.array([0.65, 0.70, 0.29]), np.array([0.07, 0.99, 0.11]))}


@dataclass
class ForeignConfig:
    seed: int = 0
    size_px: int = 1000
    mpp: float = 0.25
    section_um: float = 4.0
    radius_um: float = 2.6          # mean nuclear radius (gamma distributed)
    radius_shape: float = 14.0      # gamma shape: coefficient of variation 1/sqrt(shape) = 0.27
    radius_law: str = "gamma"       # or "lognormal"
    axes: tuple = (1.25, 1.0, 0.8)  # ellipsoid semi-axes relative to the equivalent radius
    nuclear_fraction: float = 0.15  # of the cellular volume
    cell_reach_um: float = 7.0      # a cell ends this far from its nucleus centre at most
    extracellular: float = 0.12
    stroma_fraction: float = 0.2
    chromatin_sd: float = 0.2       # log-normal spread of chromatin concentration between nuclei
    texture_sd: float = 0.35        # clumping of chromatin within a nucleus
    envelope: float = 1.6           # the nuclear envelope's chromatin density, relative to the inside
    stains: str = "macenko"         # or "ruifrok" (scikit-image's rgb2hed vectors)
    paint: str = "path"             # "flat": each profile painted one colour, whatever the path through it
    h_od_um: float = 0.3            # haematoxylin optical density per um of chromatin
    e_od_um: float = 0.05           # eosin per um of cytoplasm
    stroma_od_um: float = 0.07
    membrane_od: float = 0.06
    blur_px: float = 0.8            # optics blur in focus
    defocus_px_um: float = 0.3      # extra blur per um of distance from the focal plane
    focal_um: float | None = None   # None = mid-section
    jpeg_quality: int | None = 85   # None = a PNG
    gain: float = 15.0              # photons per grey level (shot noise)
    min_profile_um: float = 1.0


def _radii(n, cfg, rng):
    if cfg.radius_law == "lognormal":  # the same mean and spread
        sd = np.sqrt(np.log1p(1 / cfg.radius_shape))
        return cfg.radius_um * np.exp(sd * rng.standard_normal(n) - sd**2 / 2)
    return rng.gamma(cfg.radius_shape, cfg.radius_um / cfg.radius_shape, n)


def _pack(box, n_target, cfg, allowed, rng):
    """Random sequential addition of bounding spheres: centres (um) and equivalent radii (um)."""
    reach = max(cfg.axes) / np.prod(cfg.axes) ** (1 / 3)
    centres, radii = np.zeros((0, 3)), np.zeros(0)
    for _ in range(60):
        if len(centres) >= n_target:
            break
        m = 4000
        cand = rng.uniform(0, 1, (m, 3)) * box
        r = np.sort(_radii(m, cfg, rng))[::-1]
        keep = allowed(cand)
        cand, r = cand[keep], r[keep]
        tree = cKDTree(centres) if len(centres) else None
        bound_max = reach * (radii.max() if len(radii) else r.max())
        new_c, new_r = [], []
        for c, rr in zip(cand, r):
            br = reach * rr
            if tree is not None:
                near = tree.query_ball_point(c, br + bound_max + 0.2)
                if near and np.any(np.linalg.norm(centres[near] - c, axis=1) < br + reach * radii[near] + 0.2):
                    continue
            if new_c:
                d = np.linalg.norm(np.array(new_c) - c, axis=1)
                if np.any(d < br + reach * np.array(new_r) + 0.2):
                    continue
            new_c.append(c)
            new_r.append(rr)
            if len(centres) + len(new_c) >= n_target:
                break
        if new_c:
            centres, radii = np.vstack([centres, new_c]), np.concatenate([radii, new_r])
    return centres, radii


def simulate_foreign(cfg: ForeignConfig):
    rng = np.random.default_rng(cfg.seed)
    px = cfg.mpp
    side = cfg.size_px * px
    margin = 10.0
    T = cfg.section_um
    box = np.array([side + 2 * margin, side + 2 * margin, T + 2 * margin])
    top = margin  # the section spans box depths [margin, margin + T]

    # stroma: a smooth 3D random field on a 1 um grid, thresholded at its quantile
    step = 1.0
    grid = np.ceil(box / step).astype(int)
    field = gaussian_filter(rng.standard_normal(grid[::-1]), 6.0)  # (z, y, x)
    stroma = field < np.quantile(field, cfg.stroma_fraction)

    def in_stroma(p):
        idx = np.clip((p / step).astype(int), 0, grid - 1)
        return stroma[idx[:, 2], idx[:, 1], idx[:, 0]]

    mean_vol = 4 / 3 * np.pi * np.mean(_radii(100_000, cfg, rng) ** 3)
    n_target = int(np.prod(box) * (1 - cfg.stroma_fraction) * (1 - cfg.extracellular) * cfg.nuclear_fraction
                   / mean_vol)
    centres, rho = _pack(box, n_target, cfg, lambda p: ~in_stroma(p), rng)
    n = len(centres)
    rot = Rotation.random(n, random_state=rng.integers(2**31)).as_matrix()
    axes = rho[:, None] * np.array(cfg.axes)[None, :] / np.prod(cfg.axes) ** (1 / 3)

    # cells: nearest nucleus centre within reach, outside stroma, less the extracellular share
    vstep = 0.5
    vg = np.ceil(box / vstep).astype(int)
    zz, yy, xx = np.meshgrid(*(np.arange(k) * vstep + vstep / 2 for k in vg[::-1]), indexing="ij")
    pts = np.column_stack([xx.ravel(), yy.ravel(), zz.ravel()])
    d, owner = cKDTree(centres).query(pts, distance_upper_bound=cfg.cell_reach_um)
    owner[~np.isfinite(d) | in_stroma(pts)] = -1
    volume = np.bincount(owner[owner >= 0], minlength=n) * vstep**3 * (1 - cfg.extracellular)
    cells3d = owner.reshape(vg[::-1])

    # the section, voxel by voxel at the pixel size
    nz = int(round(T / px))
    slice_z = top + (np.arange(nz) + 0.5) * px
    texture = gaussian_filter(rng.standard_normal((nz, cfg.size_px, cfg.size_px)).astype(np.float32), 1.5)
    texture = np.clip(1 + texture / texture.std() * cfg.texture_sd, 0.2, None)
    conc = np.exp(cfg.chromatin_sd * rng.standard_normal(n))
    h_slices = np.zeros((nz, cfg.size_px, cfg.size_px), np.float32)
    path = {}
    for k in range(n):
        c = centres[k] - [margin, margin, 0]
        ext = axes[k].max()
        if c[2] + ext < top or c[2] - ext > top + T:
            continue
        x0, x1 = int(max((c[0] - ext) / px, 0)), int(min((c[0] + ext) / px + 2, cfg.size_px))
        y0, y1 = int(max((c[1] - ext) / px, 0)), int(min((c[1] + ext) / px + 2, cfg.size_px))
        if x0 >= x1 or y0 >= y1:
            continue
        gz, gy, gx = np.meshgrid(slice_z, (np.arange(y0, y1) + 0.5) * px, (np.arange(x0, x1) + 0.5) * px,
                                 indexing="ij")
        rel = np.stack([gx - c[0], gy - c[1], gz - c[2]], -1) @ rot[k]  # into the ellipsoid's frame
        q = ((rel / axes[k]) ** 2).sum(-1)
        inside = q <= 1
        if not inside.any():
            continue
        density = conc[k] * np.where(q > 0.75, cfg.envelope, 1.0) * texture[:, y0:y1, x0:x1]
        h_slices[:, y0:y1, x0:x1] += np.where(inside, density, 0) * px * cfg.h_od_um
        path[k] = (y0, x0, inside.sum(0) * px)

    nuclear_path = h_slices.astype(bool).sum(0) * px  # for the cytoplasm's eosin
    if cfg.paint == "flat":  # no Beer-Lambert: the image says nothing of depth but the profile's size
        h_slices[:] = 0
        for k, (y0, x0, p) in path.items():
            h, w = p.shape
            h_slices[nz // 2, y0:y0 + h, x0:x0 + w] += (p > 0) * conc[k] * cfg.h_od_um * 2 * cfg.radius_um
    focal = top + (T / 2 if cfg.focal_um is None else cfg.focal_um)
    h_od = np.zeros((cfg.size_px, cfg.size_px))
    for i, z in enumerate(slice_z):
        h_od += gaussian_filter(h_slices[i], np.hypot(cfg.blur_px, cfg.defocus_px_um * abs(z - focal)))

    # labels: the nucleus with the longest path through the section at each pixel
    labels = np.zeros((cfg.size_px, cfg.size_px), np.uint16)
    best = np.zeros((cfg.size_px, cfg.size_px))
    rows, outlines = [], {}
    for k, (y0, x0, p) in path.items():
        area = (p > 0).sum()
        if np.sqrt(area / np.pi) * px < cfg.min_profile_um:
            continue
        label = len(rows) + 1
        h, w = p.shape
        win = best[y0:y0 + h, x0:x0 + w]
        take = p > win
        win[take] = p[take]
        labels[y0:y0 + h, x0:x0 + w][take] = label
        contour = max(find_contours(np.pad(p > 0, 1).astype(float), 0.5), key=len)
        outlines[label] = np.column_stack([contour[:, 1] - 1 + x0, contour[:, 0] - 1 + y0])
        c = centres[k] - [margin, margin, 0]
        rows.append({"label": label, "x": c[0] / px - 0.5, "y": c[1] / px - 0.5, "z": (c[2] - top) / px,
                     "r": rho[k] / px, "cell_volume": volume[k] / px**3, "profile_r": np.sqrt(area / np.pi)})
    truth = pd.DataFrame(rows)

    # eosin: cytoplasm (cell voxels in the section less nuclei), stroma with fibres, membranes in any slice
    sec = cells3d[int(top / vstep):int(np.ceil((top + T) / vstep))]
    cell_path = (sec >= 0).sum(0) * vstep
    edges = np.zeros(sec.shape[1:])
    for s in sec:
        edges += (s != np.roll(s, 1, 0)) | (s != np.roll(s, 1, 1))
    stroma_path = (sec < 0).sum(0) * vstep
    fine = (np.arange(cfg.size_px) + 0.5) * px + margin
    coords = np.meshgrid(fine / vstep - 0.5, fine / vstep - 0.5, indexing="ij")
    up = lambda a: map_coordinates(a, coords, order=1)  # noqa: E731
    fibres = np.clip(1 + gaussian_filter(rng.standard_normal((cfg.size_px, cfg.size_px)), (1.0, 6.0)) * 3, 0.3, 2)
    e_od = (cfg.e_od_um * np.maximum(up(cell_path) - nuclear_path, 0) + cfg.stroma_od_um * up(stroma_path) * fibres
            + cfg.membrane_od * np.clip(up(edges) / len(sec), 0, 1) * 3)
    e_od = gaussian_filter(e_od, cfg.blur_px)

    yy, xx = np.mgrid[0:cfg.size_px, 0:cfg.size_px] / cfg.size_px - 0.5
    light = np.array([236.0, 230.0, 240.0]) * (1 - 0.08 * (xx**2 + yy**2) * 2)[..., None]
    hv, ev = STAINS[cfg.stains]
    od = h_od[..., None] * hv / np.linalg.norm(hv) + e_od[..., None] * ev / np.linalg.norm(ev)
    rgb = rng.poisson(light * 10.0 ** (-od) * cfg.gain) / cfg.gain
    image = np.clip(np.round(rgb), 0, 255).astype(np.uint8)
    cellular = np.clip(up(cell_path) / T, 0, 1)  # the share of each pixel's column that holds cells
    return image, labels, outlines, truth, {"section_px": T / px, "mpp": cfg.mpp, "config": asdict(cfg)}, cellular


def write_foreign(cfg: ForeignConfig, outdir: Path) -> Path:
    outdir.mkdir(parents=True, exist_ok=True)
    image, labels, outlines, truth, meta, cellular = simulate_foreign(cfg)
    name = "image.jpg" if cfg.jpeg_quality else "image.png"
    Image.fromarray(image).save(outdir / name, **({"quality": cfg.jpeg_quality} if cfg.jpeg_quality else {}))
    Image.fromarray(labels).save(outdir / "mask.png")
    Image.fromarray(np.round(cellular * 255).astype(np.uint8)).save(outdir / "cellular.png")
    nuc = {str(k): {"centroid": [float(v) for v in c.mean(0)], "contour": np.round(c, 2).tolist(), "type": 1,
                    "type_prob": 1.0} for k, c in outlines.items()}
    (outdir / "nuclei.json").write_text(json.dumps({"mag": 40, "nuc": nuc}))
    truth.to_csv(outdir / "truth.csv", index=False)
    (outdir / "simulation.json").write_text(json.dumps(meta, indent=2))
    return outdir
