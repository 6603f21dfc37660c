"""Scenario files: loading, the step-by-step course, replay against expectations, writing."""
