"""The patient and the clinician: disease model, hazards, parameters and
their distributions, policies."""
