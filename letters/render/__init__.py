"""Render: letter content, templates, geometry, barcodes, the renderer and its pool, lint."""
