"""Verification of the guideline: static analysis, gap and overlap search, coverage, generation."""
