"""Training on real data: tasks, the trainer with checkpoints and DDP, and `qkan train`."""
