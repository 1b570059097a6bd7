"""Last-mile delivery: fleet, planning with PyVRP, dispatch, tracking, proof of delivery."""
