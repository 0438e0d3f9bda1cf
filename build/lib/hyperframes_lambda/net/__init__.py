"""Fetching from the network: the npm registry, a composition's remote assets, and the
policy that bounds what a composition may make us fetch.

May import: the ground modules only.
"""
