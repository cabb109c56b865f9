"""CLaRa-7B (Apple's "Continuous Latent Reasoning") as an answer engine: our own native implementation.

One Mistral-7B base model plays three roles by switching LoRA adapters: compressor (document ->
memory embeddings), query reasoner (question -> embedding in the same space, E2E checkpoints only)
and generator (answers from memory embeddings instead of raw text). See ``docs/clara.md``.

Importing this package has no side effects and does not import torch; import the submodules.
"""
