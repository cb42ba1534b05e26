"""Stage 4, site: templates and assets -> output/."""
