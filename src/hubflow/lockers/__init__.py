"""Locker banks: compartments, deposits with single-use pickup codes, pickups, expiry."""
