"""The apps/v1 API group: its kinds' strategies, validation and defaulting."""
