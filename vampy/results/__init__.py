"""Typed results (layer 0, pure): the report dataclasses and their JSON (schema.py), and `vampy table`'s
matching of model folders with run and eval reports (table.py). The renderers (Markdown/CSV, plots,
HTML) are in vampy/report/; the text of each command in vampy/cli/.
"""
