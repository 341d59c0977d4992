"""What many domain packages need about the stored records, with no import from any of them.

- ``people``: a person's sealed fields, opening and sealing them, and the person in scope;
- ``cases``: the case in scope, and values sealed with its person's key;
- ``history``: the timeline every domain writes to;
- ``sharing``: what a reader sees of a record it reaches through a referral.

Domain services (``app.individuals``, ``app.documents``, ``app.cases`` …) build on these; these
build only on ``app.auth.scope``, ``app.crypto``, ``app.models`` and ``app.errors``.
"""
