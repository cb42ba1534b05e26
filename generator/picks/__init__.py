"""Stage 3, picks: curation of generated sentences into the essay."""
