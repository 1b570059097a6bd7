"""Stock per hub and product, reservations and the movement ledger."""
