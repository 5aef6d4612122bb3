"""Reporting: asv results as tables, seaborn charts, the published page, and the main job that makes them."""
