"""Input and output: files written safely, nuclei tables, outlines, QuPath GeoJSON, slides, segmentation."""
