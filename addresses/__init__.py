"""addresses: parse, standardize, merge and score postal addresses from several sources.

A library of its own: it knows nothing of letters, accounts or templates.
"""
