"""Serving (L3): engines that generate for many concurrent requests, their limits and metrics.

Importing this package needs no torch: the engines import it when they are built.
"""
