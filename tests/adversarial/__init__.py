"""Adversarial tests: hostile or broken input to the public API."""
