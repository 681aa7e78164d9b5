//! A citizen's settings as FHIR R4 `Consent` resources (read-only, for machine clients):
//!
//! | setting | `policyRule` (v3-ActCode) | provision |
//! |---|---|---|
//! | terms consent in force | `OPTIN` | permit, the consent level as a code |
//! | summary care record opt-out (or purge) | `OPTOUT` | deny, from the opt-out |
//! | block of the whole record or a part | `OPTOUTE` | deny; nested permits for emergency treatment (`ETREAT`) and the patient's request (`PATRQT`) |
//! | block of a named professional | `OPTOUT` | deny, the professional as actor, no exception |
//! | objection to sharing | `OPTOUTE` | deny disclosure to the professional or organisation; nested permit for `ETREAT` |
//! | power of attorney given | `OPTIN` | permit access to the grantee (`POWATT`) for the covered areas, over its period |
//!
//! The patient and the grantees are named by their opaque portal ids (system
//! [`CITIZEN_SYSTEM`]), never by identity number. Pure functions of (facts, now): the route
//! loads the facts.

use chrono::{DateTime, SecondsFormat, Utc};
use domain::consent::{ConsentLevel, ConsentStatus};
use domain::powers_of_attorney::{status as grant_status, Coverage, Grant, GrantStatus};
use domain::sharing::{BlockTarget, ObjectionTarget};
use domain::summary_care_record::RecordState;
use persistence::sharing::{Choice, StoredChoice};
use serde_json::{json, Value};

/// Opaque portal ids of citizens.
pub const CITIZEN_SYSTEM: &str = "urn:consent-portal:citizen";
/// The Norwegian Health Personnel Register (HPR) numbers.
pub const HPR_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.4";
/// The Central Coordinating Register for Legal Entities (organisation numbers).
pub const ORGANISATION_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.101";
const KIND_SYSTEM: &str = "urn:consent-portal:consent-kind";
const RESOURCE_SYSTEM: &str = "urn:consent-portal:record";
const PART_SYSTEM: &str = "urn:consent-portal:summary-care-record-part";
const AREA_SYSTEM: &str = "urn:consent-portal:service-area";
const LEVEL_SYSTEM: &str = "urn:consent-portal:consent-level";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const ACTION: &str = "http://terminology.hl7.org/CodeSystem/consentaction";

/// What the view is made of.
pub struct Facts {
    pub subject_id: String,
    /// Where the citizen stands against the terms in force, and since when they accepted.
    pub terms: Option<(ConsentStatus, DateTime<Utc>)>,
    pub record: RecordState,
    /// Blocks and objections in force.
    pub choices: Vec<StoredChoice>,
    /// Powers of attorney the citizen gave, with whether the grantor is alive.
    pub grants: Vec<Grant>,
    pub alive: bool,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn coding(system: &str, code: &str) -> Value {
    json!({ "coding": [{ "system": system, "code": code }] })
}

fn purpose(code: &str, display: &str) -> Value {
    json!({ "system": ACT_REASON, "code": code, "display": display })
}

/// A `Consent` with the parts every one of ours has.
fn consent(
    facts: &Facts,
    id: &str,
    kind: &str,
    status: &str,
    at: DateTime<Utc>,
    policy_rule: &str,
    provision: Value,
) -> Value {
    json!({
        "resourceType": "Consent",
        "id": id,
        "status": status,
        "scope": {
            "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                "code": "patient-privacy",
                "display": "Privacy Consent"
            }]
        },
        "category": [
            { "coding": [{ "system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent" }] },
            coding(KIND_SYSTEM, kind),
        ],
        "patient": { "identifier": { "system": CITIZEN_SYSTEM, "value": facts.subject_id } },
        "dateTime": time(at),
        "policyRule": coding(ACT_CODE, policy_rule),
        "provision": provision,
    })
}

fn level_code(l: ConsentLevel) -> &'static str {
    match l {
        ConsentLevel::Basis => "basis",
        ConsentLevel::BasisPlus => "basis_plus",
        ConsentLevel::Full => "full",
    }
}

fn terms(facts: &Facts) -> Option<Value> {
    let (status, since) = facts.terms.as_ref()?;
    let (fhir_status, level) = match status {
        ConsentStatus::Active { level } => ("active", Some(*level)),
        // Accepted an older version: not in force until renewed.
        ConsentStatus::RenewalRequired { .. } => ("inactive", None),
        ConsentStatus::NotAccepted => return None,
    };
    let mut provision = json!({
        "type": "permit",
        "period": { "start": time(*since) },
        "action": [coding(ACTION, "use")],
    });
    if let Some(l) = level {
        provision["code"] = json!([coding(LEVEL_SYSTEM, level_code(l))]);
    }
    Some(consent(
        facts,
        &format!("{}-terms", facts.subject_id),
        "terms",
        fhir_status,
        *since,
        "OPTIN",
        provision,
    ))
}

fn opt_out(facts: &Facts) -> Option<Value> {
    let at = match facts.record {
        RecordState::Active { .. } => return None,
        RecordState::OptedOut { at, .. } => at,
        RecordState::Purged { opted_out_at, .. } => opted_out_at,
    };
    Some(consent(
        facts,
        &format!("{}-scr-opt-out", facts.subject_id),
        "summary_care_record_opt_out",
        "active",
        at,
        "OPTOUT",
        json!({
            "type": "deny",
            "period": { "start": time(at) },
            "action": [coding(ACTION, "access"), coding(ACTION, "collect")],
            "code": [coding(RESOURCE_SYSTEM, "summary_care_record")],
        }),
    ))
}

fn actor(system: &str, value: &str) -> Value {
    json!({
        "role": {
            "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "code": "IRCP",
                "display": "information recipient"
            }]
        },
        "reference": { "identifier": { "system": system, "value": value } }
    })
}

fn choice(facts: &Facts, c: &StoredChoice) -> Value {
    let period = json!({ "start": time(c.created_at) });
    let emergency =
        json!({ "type": "permit", "purpose": [purpose("ETREAT", "Emergency Treatment")] });
    match &c.choice {
        Choice::Block(BlockTarget::Professional(h)) => consent(
            facts,
            &c.id,
            "summary_care_record_block",
            "active",
            c.created_at,
            "OPTOUT",
            json!({
                "type": "deny",
                "period": period,
                "actor": [actor(HPR_SYSTEM, h.as_str())],
                "action": [coding(ACTION, "access")],
                "code": [coding(RESOURCE_SYSTEM, "summary_care_record")],
            }),
        ),
        Choice::Block(target) => {
            let mut code = vec![coding(RESOURCE_SYSTEM, "summary_care_record")];
            if let BlockTarget::Part(p) = target {
                code.push(coding(PART_SYSTEM, p.as_str()));
            }
            consent(
                facts,
                &c.id,
                "summary_care_record_block",
                "active",
                c.created_at,
                "OPTOUTE",
                json!({
                    "type": "deny",
                    "period": period,
                    "action": [coding(ACTION, "access")],
                    "code": code,
                    "provision": [
                        emergency,
                        { "type": "permit", "purpose": [purpose("PATRQT", "patient requested")] }
                    ],
                }),
            )
        }
        Choice::Objection(target) => {
            let who = match target {
                ObjectionTarget::Professional(h) => actor(HPR_SYSTEM, h.as_str()),
                ObjectionTarget::Organisation(n) => actor(ORGANISATION_SYSTEM, n.as_str()),
            };
            consent(
                facts,
                &c.id,
                "objection_to_sharing",
                "active",
                c.created_at,
                "OPTOUTE",
                json!({
                    "type": "deny",
                    "period": period,
                    "actor": [who],
                    "action": [coding(ACTION, "disclose"), coding(ACTION, "access")],
                    "code": [
                        coding(RESOURCE_SYSTEM, "patient_record"),
                        coding(RESOURCE_SYSTEM, "summary_care_record")
                    ],
                    "provision": [emergency],
                }),
            )
        }
    }
}

fn grant(facts: &Facts, g: &Grant, now: DateTime<Utc>) -> Value {
    let status = match grant_status(g, facts.alive, now) {
        GrantStatus::Pending => "proposed",
        GrantStatus::Active => "active",
        GrantStatus::Ended(_) => "inactive",
    };
    let start = g.accepted_at.unwrap_or(g.created_at);
    let end = match (g.ended, g.valid_until) {
        (Some((_, at)), _) => Some(at),
        (None, until) => until,
    };
    let mut period = json!({ "start": time(start) });
    if let Some(end) = end {
        period["end"] = json!(time(end));
    }
    let areas: Vec<Value> = match &g.coverage {
        Coverage::AllAreas => vec![coding(AREA_SYSTEM, "all")],
        Coverage::Areas(a) => a.iter().map(|a| coding(AREA_SYSTEM, a.as_str())).collect(),
    };
    consent(
        facts,
        &g.id,
        "power_of_attorney",
        status,
        g.created_at,
        "OPTIN",
        json!({
            "type": "permit",
            "period": period,
            "actor": [{
                "role": {
                    "coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                        "code": "POWATT",
                        "display": "power of attorney"
                    }]
                },
                "reference": { "identifier": { "system": CITIZEN_SYSTEM, "value": g.grantee_id } }
            }],
            "action": [coding(ACTION, "access"), coding(ACTION, "use")],
            "code": areas,
        }),
    )
}

/// Every `Consent` of the citizen at `now`: the terms, the opt-out, blocks and objections in
/// force, and the powers of attorney they gave (ended ones as `inactive`).
pub fn consents(facts: &Facts, now: DateTime<Utc>) -> Vec<Value> {
    let mut out: Vec<Value> = terms(facts).into_iter().collect();
    out.extend(opt_out(facts));
    out.extend(facts.choices.iter().map(|c| choice(facts, c)));
    out.extend(
        facts
            .grants
            .iter()
            .filter(|g| g.grantor_id == facts.subject_id)
            .map(|g| grant(facts, g, now)),
    );
    out
}

/// A FHIR `searchset` Bundle of `resources`. The entries have no `fullUrl`: the resources are
/// views computed for the search, not stored resources one can read by id.
pub fn bundle(resources: Vec<Value>) -> Value {
    let entry: Vec<Value> = resources
        .into_iter()
        .map(|r| json!({ "resource": r, "search": { "mode": "match" } }))
        .collect();
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": entry.len(),
        "entry": entry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use domain::sharing::{HprNumber, OrganisationNumber, RecordPart};

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, h, 0, 0).unwrap()
    }

    fn stored(id: &str, choice: Choice) -> StoredChoice {
        StoredChoice {
            id: id.into(),
            citizen_id: "c1".into(),
            choice,
            created_at: at(9),
            created_by: "c1".into(),
            lifted_at: None,
        }
    }

    fn facts() -> Facts {
        Facts {
            subject_id: "c1".into(),
            terms: Some((
                ConsentStatus::Active {
                    level: ConsentLevel::Full,
                },
                at(8),
            )),
            record: RecordState::OptedOut {
                at: at(10),
                record_started_at: None,
            },
            choices: vec![
                stored(
                    "b1",
                    Choice::Block(BlockTarget::Part(RecordPart::Medicines)),
                ),
                stored(
                    "b2",
                    Choice::Block(BlockTarget::Professional(
                        HprNumber::parse("1234567").unwrap(),
                    )),
                ),
                stored(
                    "o1",
                    Choice::Objection(ObjectionTarget::Organisation(
                        OrganisationNumber::parse("974749025").unwrap(),
                    )),
                ),
            ],
            grants: vec![Grant {
                id: "g1".into(),
                grantor_id: "c1".into(),
                grantee_id: "c2".into(),
                coverage: Coverage::AllAreas,
                created_at: at(7),
                valid_until: Some(at(20)),
                accepted_at: Some(at(8)),
                ended: None,
            }],
            alive: true,
        }
    }

    #[test]
    fn each_setting_is_one_consent_with_the_right_rule_and_provision() {
        let all = consents(&facts(), at(12));
        let rules: Vec<(&str, &str, &str)> = all
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap(),
                    c["policyRule"]["coding"][0]["code"].as_str().unwrap(),
                    c["provision"]["type"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rules,
            vec![
                ("c1-terms", "OPTIN", "permit"),
                ("c1-scr-opt-out", "OPTOUT", "deny"),
                ("b1", "OPTOUTE", "deny"),
                ("b2", "OPTOUT", "deny"),
                ("o1", "OPTOUTE", "deny"),
                ("g1", "OPTIN", "permit"),
            ]
        );
        // The professional's block has no exception; the part's opens in an emergency.
        assert!(all[3]["provision"].get("provision").is_none());
        assert_eq!(
            all[2]["provision"]["provision"][0]["purpose"][0]["code"],
            "ETREAT"
        );
        assert_eq!(
            all[4]["provision"]["actor"][0]["reference"]["identifier"]["system"],
            ORGANISATION_SYSTEM
        );
        assert_eq!(all[5]["status"], "active");
        assert_eq!(all[5]["provision"]["period"]["end"], "2026-11-30T20:00:00Z");
        // Nobody is named by identity number.
        for c in &all {
            assert_eq!(c["patient"]["identifier"]["system"], CITIZEN_SYSTEM);
        }
    }

    #[test]
    fn an_expired_power_of_attorney_is_inactive_and_an_active_record_has_no_opt_out() {
        let mut f = facts();
        f.record = RecordState::default();
        let all = consents(&f, at(21));
        assert!(all.iter().all(|c| c["id"] != "c1-scr-opt-out"));
        let g = all.iter().find(|c| c["id"] == "g1").unwrap();
        assert_eq!(g["status"], "inactive");
    }

    #[test]
    fn the_bundle_is_a_searchset() {
        let b = bundle(consents(&facts(), at(12)));
        assert_eq!(b["type"], "searchset");
        assert_eq!(b["total"], 6);
        assert_eq!(b["entry"][0]["resource"]["id"], "c1-terms");
    }
}
