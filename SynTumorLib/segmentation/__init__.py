"""segmentation layer."""
