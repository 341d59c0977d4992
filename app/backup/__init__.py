"""Backups (``haven backup`` / ``haven restore``) and key escrow (``haven keys escrow|recover``).

See snapshot.py (writing), restore.py (checking, writing back, proving), container.py (the
encrypted file format) and escrow.py (Shamir shares of the keyring).
"""
