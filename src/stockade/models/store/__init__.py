"""The model store: registered model versions ``NAME@vN`` with a SHA-256 manifest of every file,
architecture and template detection, a safe-loading policy, and verification.

Importing this package needs no torch.
"""
