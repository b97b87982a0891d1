"""HeatmapNet: a small fully convolutional hand-confidence map network and its tools."""
