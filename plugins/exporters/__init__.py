"""Exporter stages: the files a patch's cells are written to."""
