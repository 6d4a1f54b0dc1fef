"""Training and its data: MNIST loading, augmentation, synthetic pages and strings, the
training loops, evaluation and model export."""
