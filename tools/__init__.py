"""Maintenance scripts of the repository itself (not shipped with the suite)."""
