"""The outage knowledge base: normalize, store, search and render public incident timelines."""

__version__ = "0.1.0"
