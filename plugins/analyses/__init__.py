"""Analysis stages: what runs once over every reconstructed patch."""
