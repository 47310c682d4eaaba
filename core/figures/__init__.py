"""What the pages draw: every plotly figure, image grid and per-model view of the predictions.

- `curves.py`: learning curves, one run or several overlaid;
- `prediction_charts.py`: probability bars, the models × digits heatmap, confusion figures;
- `confusion.py`: which digits are confused with which, and the test images behind a cell;
- `image_grid.py`: many small arrays (filters, feature maps, weights) tiled into one picture;
- `network_view.py`: the conv filters, feature maps and input weights of a trained model;
- `sweep_charts.py`: a sweep's parallel-coordinates chart, readable in a narrow column;
- `attribution_overlay.py`: an attribution map in red and blue over the digit it explains;
- `embedding_figure.py`: a run's embedding map as a scatter, mistakes marked, a drawing placed on it;
- `report_charts.py`: a run's report: robustness small multiples (runs overlaid), a reliability
  diagram, strips of perturbed digits.

A new chart goes here as a function that returns a figure or an array; the page only shows it.
May import: core.config, core.data, core.models.
"""
