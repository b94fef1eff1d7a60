"""The scheduling.k8s.io/v1 API group: its kinds' strategies, validation and defaulting."""
