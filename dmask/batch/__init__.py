"""`dmask batch`: masking an archive, resumable, audited, on local worker processes or a Dask cluster.

`plan.py` walks the source tree (or a manifest) into jobs that keep its
layout; `worker.py` masks one whole file in a worker process (the models
loaded once per process); `pools.py` runs the jobs on a local process pool
or a Dask cluster; `audit.py` keeps the append-only JSON Lines trail that
makes a rerun skip what is done and `--verify` re-hash the outputs;
`runner.py` ties them together with the progress bar and the summary.
"""
