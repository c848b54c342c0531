"""Data preparation: images, the one preprocessing implementation (vdsp ops and compile process_ops), input plans, image2npz.
"""
