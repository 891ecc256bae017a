"""Quantisation of QKAN, HQKAN models and the classical baselines: branch-aware PTQ and QAT."""
