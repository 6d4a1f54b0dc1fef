"""Results out: CSV/JSON writers that never clobber the user's files, overlays, review.html."""
