"""volcast trainer: model code (fits, ONNX export) and the helpers the Python worker needs."""
