"""How the focus term reads edge blur: the outline taken as the profile's edge, or the edge radius fitted too.

For every scenario (cellframe's simulator, or the second renderer with ``renderer: foreign``) and
seed, one run per variant (the renderer's outlines or ``hed_watershed``'s, focus off or on, the edge
at the outline or fitted) with ``analysis=[truth]``; the table gives each metric's mean over seeds
(``focus_plane_um``: over the seeds where focus was used).

    python experiments/focus_edge/run.py
"""

import sys
from pathlib import Path

from cellframe.running.studies import study_config

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from truth_runs import variants_study  # noqa: E402

print(variants_study(study_config(HERE), HERE))
