"""optlessons: the companion package of a course on how neural networks are optimized."""

__version__ = "0.1.0"
