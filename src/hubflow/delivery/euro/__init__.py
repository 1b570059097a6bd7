"""The EURO Meets NeurIPS 2022 dynamic VRPTW: its instances, its environment and an agent
that plays it with hubflow's dispatch policies (a benchmark for the product's dispatch)."""

__all__: list[str] = []
