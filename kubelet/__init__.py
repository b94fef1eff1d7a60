"""kubemu-kubelet process."""
