"""Stage 2, samples: the verbosify engine and the sample cache it fills.

Only ``cache`` and ``store`` are imported by the site build; the engine (TensorFlow) lives in
``generator.samples.engine`` (``factory`` opens a model) and is imported by the
generate commands alone. One job a module: ``request`` (site.toml and the
command line into a request), ``policy`` (the escalation ladder and what a
passage still needs), ``generate`` (running the passages), ``record``
(appending runs to the cache), ``store`` (an essay's cache, a file per
passage), ``explore`` (the exploration grid) and ``provenance`` (why a cached run would not be made again here).
"""
