"""Dataset readers register themselves on import; importing the package makes every reader available."""
from heatmapnet.data import coco, egohands, hands_json, synthetic  # noqa: F401
