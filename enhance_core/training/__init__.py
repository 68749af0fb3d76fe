"""Training scripts for the learned filters; each reads top to bottom."""
