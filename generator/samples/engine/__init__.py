"""The verbosify engine: GPT-2 (through gpt-2-simple) fine-tuned per passage, then sampled.

The engines (``fast``, ``seed``, ``demo``, ``forward``, ``sampler``) import
TensorFlow, and only the commands that need them load them; ``common``,
``factory``, ``checkpoint`` and ``encoding`` do not, so deciding the work,
fingerprinting a model and the studio's web process stay free of it.
"""
