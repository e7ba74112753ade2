"""The one torch runtime of SynTumor's trainers and the one format of their model folders. Nothing
here imports torch at module import time.

* :mod:`.model_folder` — the one model-folder format (safetensors + one JSON card) and its loader.
"""
