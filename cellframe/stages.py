"""What a plugin declares: a stage kind, the name users pick it by, its settings schema."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Stage kinds, with the config group and hook each one is chosen for.
KINDS = {
    "segmenter": "cellframe_segment",
    "geometry": "cellframe_geometry",
    "optimizer": "cellframe_optimize",
    "objective": "cellframe_objective",
    "exporter": "cellframe_export",
    "analysis": "cellframe_analyze",
}


class StageError(Exception):
    """What a plugin reports as the user's fault (a missing input, a file it cannot use): said in one
    line, with no traceback. Any other exception from a plugin is reported as that plugin's failure."""


@dataclass(frozen=True)
class Stage:
    """A named stage a plugin provides.

    :param kind: one of :data:`KINDS`.
    :param name: the name users select in config (``optimizer=NAME``).
    :param schema: a dataclass whose fields are the stage's settings, with
        defaults. It must have a ``name: str`` field defaulting to ``name``.
    :param description: one line for ``python -m cellframe plugins``.
    :param needs_mask: a segmenter that reads ``input.mask`` (so it cannot run on a slide).
    :param shares_space: an objective whose cell sizes come from sharing the tissue among the nuclei:
        with imported outlines, a run counts the nuclei they leave out (``reconstruction.check_outlines``)
        and can hand them to it (``unlisted``).
    """

    kind: str
    name: str
    schema: type
    description: str = ""
    plugin: str = field(default="", compare=False)
    needs_mask: bool = False
    shares_space: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"stage {self.name!r}: unknown kind {self.kind!r}; expected one of {sorted(KINDS)}")
