"""The verbosify engine: GPT-2 (through gpt-2-simple) fine-tuned per passage, then sampled.

Everything in this package imports TensorFlow; only the generate,
train-demo-model and download-model commands import it.
"""
