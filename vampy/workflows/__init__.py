"""One module per job a user runs (run, infer, sweep, loadgen), as library calls that the CLI and the Python API share.
"""
