"""The browser side: accounts and sessions, and the pages for operators, merchants,
hub staff, couriers and customers, served by the API's own app (``web.pages``)."""

__all__: list[str] = []
