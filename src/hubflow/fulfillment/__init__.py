"""Inside the hub: warehouse layouts, picker routing and order batching (pure, no database)."""
