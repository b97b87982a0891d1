"""Frame to detections: preprocessing, the network under a runtime (ONNX Runtime, OpenCV, PyTorch), peak decoding.

Nothing here imports torch except torch_runtime.py, loaded only for runtime=torch."""
