"""Checkpoint to ONNX (and int8) for the torch-free runtimes."""
