"""From cleaned pixels to fields: segmentation and decoding, the page and field-image readers,
YAML zones, and the judging of the two readers together."""
