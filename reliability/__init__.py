"""`make reliability`: the suite under real API faults must give the same verdicts, in bounded time.

One module per fault injector (apf, etcd_pause, apiserver_restart, toxiproxy), the non-exempt
identity the suite runs as (identity), the run matrix (matrix) and the table it writes (report).
Entry point: `python -m reliability` (see __main__.py).
"""
