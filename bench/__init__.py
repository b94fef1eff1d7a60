"""kubemu benchmarks: `python -m bench [NAME ...] [--size tiny|full] [--repeats N] [--json FILE]`."""
