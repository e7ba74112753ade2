"""Command-line interface (``syntumor``). Each sub-command lives in ``cli/commands/<name>.py``."""
