"""Spectrum tools for QKAN models: every edge's energy by order, the smallest reps that keeps a chosen share of
it, and a cheaper model with those reps (implemented in :mod:`qkan.symbolic.reps`; docs/math.md, "Fourier form").

    import qkan
    print(qkan.spectrum.report(model))               # Markdown table: share of energy per order, per edge
    qkan.spectrum.suggest_reps(model, keep=0.999)    # [reps per layer]
    cheaper, reps, bound = qkan.lower_reps(model, keep=0.999, x=inputs)
"""

from .symbolic.reps import LoweredReps, energy_by_order, kept_share, lower_reps, report, suggest_reps

__all__ = ["LoweredReps", "energy_by_order", "kept_share", "lower_reps", "report", "suggest_reps"]
