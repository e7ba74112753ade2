"""mrml layer."""
