"""Reports: the typed results and their JSON, `vampy table`, PNG plots.
"""
