"""cellframe: infer 3D cell architecture from a single 2D H&E image (CellSqueeze3D)."""

import pluggy

__version__ = "0.1.0"

#: Marker for hook implementations, used by built-in and third-party plugins alike.
hookimpl = pluggy.HookimplMarker("cellframe")

__all__ = ["__version__", "hookimpl"]
