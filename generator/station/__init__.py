"""Stage 6, station: gallery visitors verbosify their own words, live (python build.py station)."""
