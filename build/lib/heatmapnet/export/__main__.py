"""`python -m heatmapnet.export checkpoint=PATH out=model.onnx`: see heatmapnet/export/to_onnx.py."""
from heatmapnet.cli import run_tool
from heatmapnet.export.to_onnx import main

raise SystemExit(run_tool(main))
