"""One log-normal nuclear size prior or a mixture of two (objective.size_components), against known truth.

For every scenario and seed: ``python -m cellframe simulate``, then a run with each prior and
``analysis=[truth]``; the table gives each metric's mean over seeds.

    python experiments/size_prior/run.py
"""

import sys
from pathlib import Path

from cellframe.running.studies import study_config

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from truth_runs import variants_study  # noqa: E402

print(variants_study(study_config(HERE), HERE))
