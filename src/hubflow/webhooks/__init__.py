"""Webhook endpoints, signed deliveries, retries, parking and replay."""

from hubflow.webhooks.signing import SIGNATURE_HEADER, SignatureError, sign, verify

__all__ = ["SIGNATURE_HEADER", "SignatureError", "sign", "verify"]
