"""The domain: token records, permissions and restrictions, secrets, the clock, errors and events.

The lowest layer: it imports no other layer of ``shared``.
"""
