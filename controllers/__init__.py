"""kubemu-controllers process."""
