"""The one torch runtime of SynTumor's trainers (segmenter, texture autoencoder, denoiser) and of the
loaders of every model folder. Nothing here imports torch at module import time.

* :mod:`.devices` — ``auto | cpu | cuda | cuda:N`` → ``torch.device`` (one rule for every command);
* :mod:`.threads` — the CPU thread policy and ``SYNTUMOR_CPU_THREADS``;
* :mod:`.distributed` — DDP under ``torchrun`` (env://, NCCL on GPUs, gloo on the CPU), rank-0 rules;
* :mod:`.precision` — AMP and ``torch.compile`` switches with their CPU fallbacks;
* :mod:`.checkpoint` — the one training-checkpoint format (tag + version, ``weights_only`` loading,
  RNG states for bit-exact resume);
* :mod:`.model_folder` — the one model-folder format (safetensors + one JSON card) and its loader;
* :mod:`.session` — :class:`~.session.TrainingRuntime`, which a trainer enters once to get all of it.
"""
