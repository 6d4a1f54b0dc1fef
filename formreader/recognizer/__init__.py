"""The networks at read time: the digit CNN and its ONNX runtime, the shipped models, and the
CTC string reader."""
