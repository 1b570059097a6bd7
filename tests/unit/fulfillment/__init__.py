"""Tests for the inside-the-hub fulfillment modules."""
