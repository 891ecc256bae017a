"""Hybrid models: HQKAN bottlenecks, the HQKAN classifier and a GPT with a selectable MLP."""
