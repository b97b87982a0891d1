"""`python -m heatmapnet.evaluate checkpoint=PATH data=FOLDER`: see heatmapnet/evaluate/run.py."""
import sys

from heatmapnet.evaluate.run import main

sys.exit(main())
