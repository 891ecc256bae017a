"""Classical KAN baselines (spline, rational, RBF) and an MLP, with the QKAN layer API."""
