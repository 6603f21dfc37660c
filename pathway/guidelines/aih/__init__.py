"""The autoimmune hepatitis (AIH) treatment guideline: chart, record, rules, timers, vocabulary.

For research and education; not for treating patients.
"""
