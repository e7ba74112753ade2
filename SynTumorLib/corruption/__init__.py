"""corruption layer."""
