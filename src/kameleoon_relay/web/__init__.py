"""What every HTTP surface shares: the relay's state, JSON answers, bounded bodies, parameters."""
