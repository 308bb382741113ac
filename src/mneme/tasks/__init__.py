"""Tasks: pure example generators and real datasets, each with its loss and metrics."""
