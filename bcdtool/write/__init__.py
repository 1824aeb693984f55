"""The one write path of bcdtool: a transaction (`transaction.py`) and the sinks it writes
through (`sinks/`); journal, undo, locks, refusal policy and audit trail live here once."""
