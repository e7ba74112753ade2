"""Figures: slice overlays, galleries, plots (PNG via matplotlib Agg)."""
