"""Stage 2, samples: the verbosify engine and the sample cache it fills.

Only ``cache`` is imported by the site build; the engine (TensorFlow) lives in
``generator.samples.engine`` and is imported by the generate commands alone.
"""
