"""Who reacts to what, and in which order: the one table of Haven's side effects.

A service publishes a fact (``app.events``); the reactions listed for it here run at once, in
this order, in the same transaction. Risk comes before alerts, so a rise in risk is raised as an
alert before (and can be muted by, or mute) the alert of the fact itself.

To add a reaction: write ``on_<fact>(session, event)`` in the package that reacts (its
``reactions.py``, or the module that owns what it changes) and list it below. A new kind of event
must be listed here too: publishing one that is not is an error (``tests/test_events.py``).
"""

from __future__ import annotations

from app import lockdown
from app.alerts import triggers as alerts
from app.cases import attachments
from app.consent import service as consent
from app.documents import service as documents
from app.events import (
    ApiKeyCreated,
    BreakGlassGranted,
    CaseAccessGranted,
    CheckInRecorded,
    ConsentRecorded,
    CountryEventRecorded,
    DeploymentLockChanged,
    DocumentAdded,
    DocumentStatusChanged,
    IncidentRecorded,
    ListMatched,
    LookupBurst,
    PeopleExported,
    PeopleImported,
    PersonErased,
    PersonRegistered,
    ProfileChanged,
    ReferralStepped,
    RevocationListApplied,
    RiskEscalated,
    Table,
    TwoFactorReset,
    UnhcrStatusChanged,
)
from app.imports import references
from app.incidents import service as incidents
from app.monitoring import service as monitoring
from app.referrals import service as referrals
from app.risk import reactions as risk
from app.risk import service as risk_service
from app.unhcr import service as unhcr

TABLE: Table = {
    # People
    PersonRegistered: (risk.on_person_registered,),
    ProfileChanged: (risk.on_profile_changed,),
    UnhcrStatusChanged: (risk.on_unhcr_status,),
    CheckInRecorded: (alerts.on_check_in,),
    PersonErased: (
        attachments.on_person_erased,
        incidents.on_person_erased,
        monitoring.on_person_erased,
        risk_service.on_person_erased,
        documents.on_person_erased,
        unhcr.on_person_erased,
        consent.on_person_erased,
        alerts.on_person_erased,
        references.on_person_erased,
    ),
    PeopleImported: (risk.on_people_imported, alerts.on_people_imported),
    PeopleExported: (alerts.on_people_exported,),
    # Documents
    DocumentAdded: (risk.on_document_added,),
    DocumentStatusChanged: (risk.on_document_status, alerts.on_document_status),
    RevocationListApplied: (risk.on_revocation_list, alerts.on_revocation_list),
    # Incidents and monitoring
    IncidentRecorded: (risk.on_incident, alerts.on_incident),
    ListMatched: (risk.on_list_matched, alerts.on_list_matched),
    CountryEventRecorded: (risk.on_country_event, alerts.on_country_event),
    # Risk
    RiskEscalated: (alerts.on_risk_escalated,),
    # Cases, consent and referrals
    BreakGlassGranted: (alerts.on_break_glass,),
    ConsentRecorded: (referrals.on_consent_recorded,),
    ReferralStepped: (alerts.on_referral_step,),
    # Staff accounts and keys
    TwoFactorReset: (alerts.on_two_factor_reset,),
    CaseAccessGranted: (alerts.on_case_access_granted,),
    ApiKeyCreated: (alerts.on_api_key_created,),
    LookupBurst: (alerts.on_lookup_burst,),
    # The deployment
    DeploymentLockChanged: (lockdown.on_lock_changed,),
}
