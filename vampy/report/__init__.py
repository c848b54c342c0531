"""The renderers of vampy's results: `vampy table`'s Markdown/CSV (table_render.py), PNG/SVG plots
(plots.py) and the HTML page of `vampy report` (html/). The typed results themselves are vampy/results/.
"""
