# mypy only: makes this folder a package so that qkan.circuits/qkan.solvers resolve to the links beside it.
