"""Loyalty points: a ledger per customer, earn and burn rules, expiry, partner transfers."""
