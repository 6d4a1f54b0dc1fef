"""Input: which files a batch reads (paths, folders, globs) and how a file becomes grey page arrays."""
