"""cnncalc: a calculator for convolution arithmetic and backpropagation."""

__version__ = "0.1.0"
