"""The strategy research loop: parameter studies (optuna, trials as Celery tasks),
walk-forward analysis, overfitting statistics and look-ahead checks.

An app of its own inside `prediction` (label `research`), so its tables and migrations
stay apart from the backtests it builds on.
"""
