"""Hubflow: turn stores, fulfillment centers and lockers into one delivery network."""

__version__ = "0.1.0"
__all__ = ["__version__"]
