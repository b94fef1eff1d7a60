"""The Kubernetes API types as kubemu speaks them: kinds, (de)serialization, selectors, quantities."""
