"""qkan: quantum-inspired Kolmogorov-Arnold Networks."""
