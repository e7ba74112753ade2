"""Random fields for the phantom: smooth shape/texture fields and correlated CT noise."""

from .noise import SmoothField, add_ct_noise

__all__ = ["SmoothField", "add_ct_noise"]
