"""Membership: plans, subscriptions, households and the benefits they give."""
