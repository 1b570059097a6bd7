"""The digital twin: demo networks, generated catalogs, demand, and the demo itself."""
