"""Data layer: volumes with geometry, I/O, resampling, intensity windows, datasets, the phantom."""
