"""Declared features: columns a team adds to the engine's schema in hub.yaml (``decision.features``)."""
