"""texture layer."""
