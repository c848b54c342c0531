"""Vendor formats in: vdsp files, compiler YAMLs, datalists, npz files, bounded reads and atomic writes.

Everything a vamp user hands vampy is parsed here, once, into vampy's own frozen types (house rule 11).
"""
