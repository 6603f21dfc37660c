"""Adversarial tests: hostile or broken input to the public API, output folders, input
files, options and crashes.

Each test reproduces a way a careful user (or a hostile file) could lose data or get a
traceback, and asserts the behaviour docs/guarantees.md promises instead.
"""
