"""Measuring: the one timing protocol, rooflines, sweeps, speed targets, the regression guard and recommend."""
