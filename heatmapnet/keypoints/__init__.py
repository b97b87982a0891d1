"""21 hand keypoints and left/right per tracked hand: a small top-down network on crops of the tracks' boxes.

Run time (torch-free): crops.py, codec.py, model_file.py, stage.py. Training (torch): network.py, data.py,
train.py, export.py. Figures: metrics.py.
"""
