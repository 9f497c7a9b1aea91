"""Figures (matplotlib, no pyplot state) and the HTML report.

The data step (`lrbench.viz.data`) reads the store into small records; each figure function
(`lrbench.viz.figures`) takes such a record and returns a `Figure`.
"""
