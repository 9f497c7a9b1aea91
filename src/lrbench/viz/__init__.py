"""Figures (matplotlib, no pyplot state): each takes data and returns a `Figure`."""

from lrbench.viz.figures import schedule_curves, schedule_figure, schedule_grid_figure

__all__ = ["schedule_curves", "schedule_figure", "schedule_grid_figure"]
