"""The Engine seam: the only package that imports a runtime (ONNX Runtime today).
"""
