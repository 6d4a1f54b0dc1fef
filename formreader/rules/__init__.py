"""What a value must satisfy: length, pattern and checksum rules from the pipeline YAML."""
