"""Which depth each cell is given: the posterior's mode or its median distance from the mid-plane, against known truth.

For every scenario (cellframe's simulator, or the second renderer with ``renderer: foreign``) and
seed, one run per variant with ``analysis=[truth]``; the table gives each metric's mean over seeds.

    python experiments/depth_point/run.py
"""

import sys
from pathlib import Path

from cellframe.running.studies import study_config

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from truth_runs import variants_study  # noqa: E402

print(variants_study(study_config(HERE), HERE))
