"""kubemu-scheduler process."""
