//! Blocks of the summary care record and objections to sharing as stored, and the openings of
//! them that downstream decisions granted (rules: `domain::sharing`). Lifted ones stay.

use crate::db::{from_db, to_db, AnyConnection, StoreError};
use crate::schema::{sharing_openings as so, sharing_restrictions as sr};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::sharing::{
    BlockTarget, HprNumber, InForce, ObjectionTarget, OrganisationNumber, RecordPart,
};

/// A block or an objection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Block(BlockTarget),
    Objection(ObjectionTarget),
}

/// A stored block or objection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChoice {
    pub id: String,
    pub citizen_id: String,
    pub choice: Choice,
    pub created_at: DateTime<Utc>,
    /// The portal id of who set it (the citizen, or a guardian).
    pub created_by: String,
    pub lifted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sr, treat_none_as_default_value = false)]
struct Row {
    id: String,
    citizen_id: String,
    seq: i64,
    kind: String,
    target_kind: String,
    target: String,
    created_at: NaiveDateTime,
    created_by: String,
    lifted_at: Option<NaiveDateTime>,
    lifted_by: Option<String>,
}

const BLOCK: &str = "block";
const OBJECTION: &str = "objection";

fn columns(choice: &Choice) -> (&'static str, &'static str, String) {
    match choice {
        Choice::Block(BlockTarget::WholeRecord) => (BLOCK, "whole_record", String::new()),
        Choice::Block(BlockTarget::Part(p)) => (BLOCK, "part", p.as_str().to_owned()),
        Choice::Block(BlockTarget::Professional(h)) => {
            (BLOCK, "professional", h.as_str().to_owned())
        }
        Choice::Objection(ObjectionTarget::Professional(h)) => {
            (OBJECTION, "professional", h.as_str().to_owned())
        }
        Choice::Objection(ObjectionTarget::Organisation(n)) => {
            (OBJECTION, "organisation", n.as_str().to_owned())
        }
    }
}

impl TryFrom<Row> for StoredChoice {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<StoredChoice, StoreError> {
        let corrupt = || {
            StoreError::Corrupt(format!(
                "sharing restriction {} {:?}/{:?}",
                r.id, r.kind, r.target_kind
            ))
        };
        let hpr = || HprNumber::parse(&r.target).map_err(|_| corrupt());
        let choice = match (r.kind.as_str(), r.target_kind.as_str()) {
            (BLOCK, "whole_record") => Choice::Block(BlockTarget::WholeRecord),
            (BLOCK, "part") => Choice::Block(BlockTarget::Part(
                RecordPart::parse(&r.target).ok_or_else(corrupt)?,
            )),
            (BLOCK, "professional") => Choice::Block(BlockTarget::Professional(hpr()?)),
            (OBJECTION, "professional") => Choice::Objection(ObjectionTarget::Professional(hpr()?)),
            (OBJECTION, "organisation") => Choice::Objection(ObjectionTarget::Organisation(
                OrganisationNumber::parse(&r.target).map_err(|_| corrupt())?,
            )),
            _ => return Err(corrupt()),
        };
        Ok(StoredChoice {
            id: r.id,
            citizen_id: r.citizen_id,
            choice,
            created_at: from_db(r.created_at),
            created_by: r.created_by,
            lifted_at: r.lifted_at.map(from_db),
        })
    }
}

/// Stores a new choice after the citizen's others. Call it under the citizen's lock
/// (`db::lock_citizen`): the position is the next one, and two writers would collide on it.
pub fn insert(conn: &mut AnyConnection, s: &StoredChoice) -> Result<(), StoreError> {
    let (kind, target_kind, target) = columns(&s.choice);
    let last: Option<i64> = sr::table
        .filter(sr::citizen_id.eq(&s.citizen_id))
        .select(diesel::dsl::max(sr::seq))
        .get_result(conn)?;
    diesel::insert_into(sr::table)
        .values(Row {
            id: s.id.clone(),
            citizen_id: s.citizen_id.clone(),
            seq: last.unwrap_or(0) + 1,
            kind: kind.to_owned(),
            target_kind: target_kind.to_owned(),
            target,
            created_at: to_db(s.created_at),
            created_by: s.created_by.clone(),
            lifted_at: None,
            lifted_by: None,
        })
        .execute(conn)?;
    Ok(())
}

/// The citizen's blocks and objections in force, newest first.
pub fn listed(conn: &mut AnyConnection, citizen_id: &str) -> Result<Vec<StoredChoice>, StoreError> {
    sr::table
        .filter(sr::citizen_id.eq(citizen_id))
        .filter(sr::lifted_at.is_null())
        .order(sr::seq.desc())
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(StoredChoice::try_from)
        .collect()
}

/// Every block and objection the citizen ever set, lifted ones included, oldest first.
pub fn history(
    conn: &mut AnyConnection,
    citizen_id: &str,
) -> Result<Vec<StoredChoice>, StoreError> {
    sr::table
        .filter(sr::citizen_id.eq(citizen_id))
        .order(sr::seq.asc())
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(StoredChoice::try_from)
        .collect()
}

/// The citizen's blocks and objections in force, as the rules read them.
pub fn in_force(conn: &mut AnyConnection, citizen_id: &str) -> Result<InForce, StoreError> {
    let mut f = InForce::default();
    for s in listed(conn, citizen_id)? {
        match s.choice {
            Choice::Block(b) => f.blocks.push(b),
            Choice::Objection(o) => f.objections.push(o),
        }
    }
    Ok(f)
}

pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<StoredChoice>, StoreError> {
    sr::table
        .find(id)
        .select(Row::as_select())
        .get_result(conn)
        .optional()?
        .map(StoredChoice::try_from)
        .transpose()
}

/// Lifts `id` unless already lifted; true when this call lifted it.
pub fn lift(
    conn: &mut AnyConnection,
    id: &str,
    at: DateTime<Utc>,
    by: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(sr::table.find(id).filter(sr::lifted_at.is_null()))
        .set((
            sr::lifted_at.eq(Some(to_db(at))),
            sr::lifted_by.eq(Some(by)),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// A permitted read that passed a block or an objection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOpening {
    pub id: String,
    pub citizen_id: String,
    pub at: DateTime<Utc>,
    /// `domain::sharing::Opening::as_str`.
    pub kind: String,
    /// `summary_care_record` or `patient_record`.
    pub resource: String,
    /// The parts asked for; empty for the patient record.
    pub parts: Vec<RecordPart>,
    pub hpr_number: String,
    pub organisation_number: String,
    /// `consent` or `emergency`.
    pub basis: String,
    pub stated_basis: Option<String>,
    pub client_id: String,
    pub log_seq: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = so, treat_none_as_default_value = false)]
struct OpeningRow {
    id: String,
    citizen_id: String,
    at: NaiveDateTime,
    kind: String,
    resource: String,
    parts: String,
    hpr_number: String,
    organisation_number: String,
    basis: String,
    stated_basis: Option<String>,
    client_id: String,
    log_seq: i64,
}

pub fn insert_opening(conn: &mut AnyConnection, o: &StoredOpening) -> Result<(), StoreError> {
    diesel::insert_into(so::table)
        .values(OpeningRow {
            id: o.id.clone(),
            citizen_id: o.citizen_id.clone(),
            at: to_db(o.at),
            kind: o.kind.clone(),
            resource: o.resource.clone(),
            parts: stored_parts(&o.parts),
            hpr_number: o.hpr_number.clone(),
            organisation_number: o.organisation_number.clone(),
            basis: o.basis.clone(),
            stated_basis: o.stated_basis.clone(),
            client_id: o.client_id.clone(),
            log_seq: o.log_seq,
        })
        .execute(conn)?;
    Ok(())
}

/// An opening's parts as its `parts` column holds them: their names, space-separated.
pub fn stored_parts(parts: &[RecordPart]) -> String {
    let names: Vec<&str> = parts.iter().map(|p| p.as_str()).collect();
    names.join(" ")
}

/// The citizen's latest `limit` openings, newest first.
pub fn openings(
    conn: &mut AnyConnection,
    citizen_id: &str,
    limit: i64,
) -> Result<Vec<StoredOpening>, StoreError> {
    so::table
        .filter(so::citizen_id.eq(citizen_id))
        .order((so::at.desc(), so::log_seq.desc(), so::id.desc()))
        .limit(limit)
        .select(OpeningRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|r| {
            let parts = r
                .parts
                .split_whitespace()
                .map(|p| {
                    RecordPart::parse(p)
                        .ok_or_else(|| StoreError::Corrupt(format!("record part {p:?}")))
                })
                .collect::<Result<_, _>>()?;
            Ok(StoredOpening {
                id: r.id,
                citizen_id: r.citizen_id,
                at: from_db(r.at),
                kind: r.kind,
                resource: r.resource,
                parts,
                hpr_number: r.hpr_number,
                organisation_number: r.organisation_number,
                basis: r.basis,
                stated_basis: r.stated_basis,
                client_id: r.client_id,
                log_seq: r.log_seq,
            })
        })
        .collect()
}
