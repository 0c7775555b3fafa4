"""asyncflag's benchmark suite: ``python -m benchmarks`` (``--quick`` for a smoke run).

Every case measures a baseline in the same run and reports a ratio against it, since
absolute figures on a shared 2-core machine swing more than 2x from run to run.
"""
