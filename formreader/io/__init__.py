"""Input: which files a batch reads (paths, folders, globs), how a file becomes grey page arrays,
and a pipeline's YAML parsed within limits."""
