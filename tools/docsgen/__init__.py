"""Generators of the documentation site's reference pages (run through tools/build_docs.py)."""
