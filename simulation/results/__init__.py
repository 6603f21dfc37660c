"""Cohort results: outputs written and read back, endpoints, survival,
outcomes, report, calibration."""
