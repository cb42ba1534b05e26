"""Stage 5, the book: a verbosified essay as an EPUB (ebooklib) and a PDF (printed by Chromium).

``python build.py book`` builds the site with its books (``site.builder.Options.books``): each is
one more output of its essay, written to ``output/book/<slug>.epub`` and ``.pdf``, linked from
the essay's page, and kept by later builds for as long as the essay, its samples and picks are
unchanged. ``text`` lays the book out (title page, contents, chapters, the model's sentences
in ``<ins>``), ``epub`` and ``pdf`` write it. ebooklib and Chromium are imported or started only
when a book is asked for: the site's own build never needs them.
"""
