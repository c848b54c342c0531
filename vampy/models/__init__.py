"""Model files, runtime-neutral: resolve `-m`, the signature (ModelInfo), MACs and parameters, the reference zoo.
"""
