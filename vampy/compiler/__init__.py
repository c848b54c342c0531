"""`vampy compile`: a vamc YAML's plan -> fp32 / fp16 / int8 model, calibration data and ranges.
"""
