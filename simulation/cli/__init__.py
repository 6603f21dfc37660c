"""The ``carechart`` command line: the parser and error handling, and the sub-commands that
belong to no other concern (demo, diagram, simulate/compare)."""
