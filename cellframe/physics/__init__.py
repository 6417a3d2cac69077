"""The physics of a section: stereology, the evidence terms' models, and the known-truth simulator."""
