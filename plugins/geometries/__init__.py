"""Geometry stages: the shape of each cell (sphere, ellipsoid, 2D baselines)."""
