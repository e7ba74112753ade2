"""Published models SynTumor can take: the catalogue (:mod:`.catalogue`), the consented download
(:mod:`.download`) and the importers' entry points used by ``syntumor models``.

Nothing here downloads at import time; see ``docs/how-to/difftumor-models.md``.
"""
