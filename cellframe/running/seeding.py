"""Run libraries that use global random state (Python's ``random``, ``np.random``) reproducibly."""

from __future__ import annotations

import contextlib
import random
from typing import Iterator

import numpy as np


@contextlib.contextmanager
def global_random_state(rng: np.random.Generator) -> Iterator[None]:
    """Seed ``random`` and ``np.random`` from ``rng`` for the block, then restore them."""
    py_state, np_state = random.getstate(), np.random.get_state()
    seed = int(rng.integers(2**32 - 1))
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
