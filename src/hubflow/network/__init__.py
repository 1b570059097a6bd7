"""Hubs of the network: fulfillment centers, stores and dark stores."""
