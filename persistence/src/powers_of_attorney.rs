//! Powers of attorney as stored. Every lookup for a citizen is "where the citizen is a party",
//! so a power of attorney between other people is simply not found.

use crate::db::{from_db, to_db, AnyConnection, StoreError};
use crate::schema::powers_of_attorney as poa;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::powers_of_attorney::{Coverage, EndReason, Grant, Party, ServiceArea};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = poa, treat_none_as_default_value = false)]
struct Row {
    id: String,
    grantor_id: String,
    grantee_id: String,
    all_areas: bool,
    areas: String,
    created_at: NaiveDateTime,
    valid_until: Option<NaiveDateTime>,
    accepted_at: Option<NaiveDateTime>,
    ended_reason: Option<String>,
    ended_at: Option<NaiveDateTime>,
    ended_by: Option<String>,
}

impl TryFrom<Row> for Grant {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Grant, StoreError> {
        let coverage = if r.all_areas {
            Coverage::AllAreas
        } else {
            Coverage::Areas(
                r.areas
                    .split_whitespace()
                    .map(|a| {
                        ServiceArea::parse(a)
                            .ok_or_else(|| StoreError::Corrupt(format!("service area {a:?}")))
                    })
                    .collect::<Result<_, _>>()?,
            )
        };
        let ended = match (r.ended_reason, r.ended_at) {
            (Some(reason), Some(at)) => Some((
                EndReason::parse(&reason)
                    .ok_or_else(|| StoreError::Corrupt(format!("end reason {reason:?}")))?,
                from_db(at),
            )),
            _ => None,
        };
        Ok(Grant {
            id: r.id,
            grantor_id: r.grantor_id,
            grantee_id: r.grantee_id,
            coverage,
            created_at: from_db(r.created_at),
            valid_until: r.valid_until.map(from_db),
            accepted_at: r.accepted_at.map(from_db),
            ended,
        })
    }
}

fn areas_text(c: &Coverage) -> (bool, String) {
    match c {
        Coverage::AllAreas => (true, String::new()),
        Coverage::Areas(areas) => (
            false,
            areas
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ),
    }
}

pub fn insert(conn: &mut AnyConnection, g: &Grant) -> Result<(), StoreError> {
    let (all_areas, areas) = areas_text(&g.coverage);
    diesel::insert_into(poa::table)
        .values(Row {
            id: g.id.clone(),
            grantor_id: g.grantor_id.clone(),
            grantee_id: g.grantee_id.clone(),
            all_areas,
            areas,
            created_at: to_db(g.created_at),
            valid_until: g.valid_until.map(to_db),
            accepted_at: g.accepted_at.map(to_db),
            ended_reason: None,
            ended_at: None,
            ended_by: None,
        })
        .execute(conn)?;
    Ok(())
}

/// The power of attorney `id` if `citizen_id` is one of its parties, with the citizen's role.
pub fn find_for_party(
    conn: &mut AnyConnection,
    id: &str,
    citizen_id: &str,
) -> Result<Option<(Grant, Party)>, StoreError> {
    let row: Option<Row> = poa::table
        .find(id)
        .filter(
            poa::grantor_id
                .eq(citizen_id)
                .or(poa::grantee_id.eq(citizen_id)),
        )
        .select(Row::as_select())
        .get_result(conn)
        .optional()?;
    row.map(|r| {
        let party = if r.grantor_id == citizen_id {
            Party::Grantor
        } else {
            Party::Grantee
        };
        Grant::try_from(r).map(|g| (g, party))
    })
    .transpose()
}

/// Every power of attorney the citizen gave or received, oldest first.
pub fn of_party(conn: &mut AnyConnection, citizen_id: &str) -> Result<Vec<Grant>, StoreError> {
    poa::table
        .filter(
            poa::grantor_id
                .eq(citizen_id)
                .or(poa::grantee_id.eq(citizen_id)),
        )
        .order((poa::created_at.asc(), poa::id.asc()))
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(Grant::try_from)
        .collect()
}

/// The grants from `grantor_id` to `grantee_id` that nobody has ended (they may have expired;
/// the domain decides).
pub fn not_ended_between(
    conn: &mut AnyConnection,
    grantor_id: &str,
    grantee_id: &str,
) -> Result<Vec<Grant>, StoreError> {
    poa::table
        .filter(poa::grantor_id.eq(grantor_id))
        .filter(poa::grantee_id.eq(grantee_id))
        .filter(poa::ended_at.is_null())
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(Grant::try_from)
        .collect()
}

pub fn set_accepted(
    conn: &mut AnyConnection,
    id: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(poa::table.find(id))
        .set(poa::accepted_at.eq(Some(to_db(at))))
        .execute(conn)?;
    Ok(())
}

pub fn set_ended(
    conn: &mut AnyConnection,
    id: &str,
    reason: EndReason,
    at: DateTime<Utc>,
    by: &str,
) -> Result<(), StoreError> {
    diesel::update(poa::table.find(id).filter(poa::ended_at.is_null()))
        .set((
            poa::ended_reason.eq(Some(reason.as_str())),
            poa::ended_at.eq(Some(to_db(at))),
            poa::ended_by.eq(Some(by)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Serialises steps on one power of attorney on PostgreSQL (a row lock until the transaction
/// ends), so that an acceptance and a revocation sent at the same time are decided one after the
/// other. SQLite has one writer at a time.
pub fn lock(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(pg) = conn {
        diesel::sql_query("SELECT id FROM powers_of_attorney WHERE id = $1 FOR UPDATE")
            .bind::<diesel::sql_types::Text, _>(id)
            .execute(pg)?;
    }
    Ok(())
}
