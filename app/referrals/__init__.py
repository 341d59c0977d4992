"""Referrals: a case shared with another organisation, section by section, for a purpose."""
