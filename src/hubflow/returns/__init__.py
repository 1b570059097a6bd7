"""Returns: authorisation with a QR token, drop-off, refunds by policy, inspection."""
