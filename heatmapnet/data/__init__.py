"""Dataset readers register themselves on import; importing the package makes every reader available."""
from . import coco, egohands, hands_json, synthetic  # noqa: F401
