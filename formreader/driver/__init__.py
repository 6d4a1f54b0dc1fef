"""Batches: ordered parallel workers over many files, and the YAML pipeline that configures a run."""
