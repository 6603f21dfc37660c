"""Running patients: the SimPy engine, cohorts, scale-out, sweeps,
progress, stopping, output folders."""
