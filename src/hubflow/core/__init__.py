"""Shared kernel: ids, money, geo, clock, errors, events, database and settings."""
