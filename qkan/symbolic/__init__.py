"""Interpretability: exact per-edge Fourier spectra, sympy formulas of a whole model, spectrum-based reps
reduction (docs/math.md, "Fourier form")."""

from .fourier import EdgeSpectrum, SpectrumVariable, layer_spectrum

__all__ = ["EdgeSpectrum", "SpectrumVariable", "layer_spectrum"]
