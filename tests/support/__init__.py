"""Helpers that more than one test module uses: files, reports, processes, the Ray cluster.

No test module imports another test module; what two of them share lives here (and the tiny
ONNX models in tests/models.py). Nothing here is collected as a test.
"""
