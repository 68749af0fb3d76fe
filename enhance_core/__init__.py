"""Enhance Studio core: image I/O, filters, the filter stack, metrics, learned filters.

This package never imports Qt, so it runs headless (CLI, batch, training).
"""

__version__ = "0.1.0"
