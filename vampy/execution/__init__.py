"""The Executor seam: where a run's work happens (the local spawn pool today), its workers and their fault handling.
"""
