"""Row classes that scripts/bench imports (see scripts/bench for the row protocol)."""
