"""Hand poses: a small classifier on each tracked hand's crop, with a `none` (garbage) class.

Run time (torch-free): crops.py (cutting), classifier.py (ONNX Runtime), stabilize.py (labels stable over
time), stage.py (the pipeline Stage). Training (torch): network.py, data.py, clips.py, labelled.py,
training.py, export.py.
"""
