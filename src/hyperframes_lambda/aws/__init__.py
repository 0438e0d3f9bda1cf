"""AWS deployment helpers: the state machine definition shipped in ``sam/``."""
