"""Verbosified Space Rovers: essays in, a verbosified exhibit site out.

The package is laid out as the pipeline it runs:

    content  (essays -> paragraphs -> passages)
    samples  (generation engine + sample cache)
    picks    (curation: which generated sentences go where)
    site     (templates, GIFs, the output/ writer)
"""

__version__ = "0.1.0"
