"""Segmenter stages: nuclei from a mask, from the H&E itself, or from other tools' output."""
