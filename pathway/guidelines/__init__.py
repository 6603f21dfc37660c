"""Guidelines the engine runs: each one a package (chart, record, rules, timers, vocabulary)."""
