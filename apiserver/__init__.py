"""kubemu-apiserver process."""
