"""Objective stages: what the optimizer minimises (the paper's terms, or evidence from the image)."""
