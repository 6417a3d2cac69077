"""How many size draws one section needs: fewer posterior draws and fewer points per cell, against known truth.

For every scenario and seed: ``python -m cellframe simulate``, then one run per variant with
``analysis=[truth]``; the table gives each metric's mean over seeds.

    python experiments/draws/run.py
"""

import sys
from pathlib import Path

from cellframe.running.studies import study_config

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from truth_runs import variants_study  # noqa: E402

print(variants_study(study_config(HERE), HERE))
