"""`grinder optimize`: parameter search and walk-forward validation (an application layer).

Optuna chooses the parameters and keeps the study in an RDB storage (SQLite or PostgreSQL); Dask
runs the trials, each one a backtest through `grinder.backtest`'s public API on data cached once
per worker. Modules: space (the search-space file), evaluate (one trial, worker side), study (the
ask/run/tell loop with heartbeats and resume), windows (walk-forward spans), runner (the whole
command), report (HTML/JSON/terminal), demo (generated data), cli.
"""
