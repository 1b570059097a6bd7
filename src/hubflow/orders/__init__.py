"""Order intake, lines, shipments, the order state machine and sourcing."""
