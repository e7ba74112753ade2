"""Sub-commands of ``syntumor train`` (one module each: segmenter, autoencoder, diffusion, ...).
Each module defines ``register(train_subparsers)``; they are discovered like top-level commands."""
