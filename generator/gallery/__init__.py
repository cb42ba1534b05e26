"""Stage 5, gallery: the published site on a screen in the room (the kiosk)."""
