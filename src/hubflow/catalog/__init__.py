"""Merchants (tenants), their API keys and their products."""
