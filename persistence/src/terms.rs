//! The terms consent: applying a change decided by `domain::consent` and its history.

use crate::citizens;
use crate::db::{from_db, to_db, AnyConnection, StoreError};
use crate::schema::terms_history;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::consent::{ConsentLevel, TermsChange};

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = terms_history, treat_none_as_default_value = false)]
struct NewRow<'a> {
    citizen_id: &'a str,
    action: &'a str,
    terms_version: &'a str,
    level: Option<&'a str>,
    at: NaiveDateTime,
}

/// One line of the history: an acceptance, a level change or a withdrawal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub action: String,
    pub terms_version: String,
    pub level: Option<ConsentLevel>,
    pub at: DateTime<Utc>,
}

/// Stores the consent that results from `change` and adds the change to the history.
pub fn apply(
    conn: &mut AnyConnection,
    citizen_id: &str,
    change: &TermsChange,
) -> Result<(), StoreError> {
    let resulting = change.resulting_consent();
    citizens::set_consent(conn, citizen_id, resulting.as_ref())?;
    let (version, level, at) = match change {
        TermsChange::Accepted {
            terms_version,
            level,
            at,
        } => (terms_version, Some(*level), *at),
        TermsChange::LevelChanged {
            terms_version,
            to,
            at,
            ..
        } => (terms_version, Some(*to), *at),
        TermsChange::Withdrawn { terms_version, at } => (terms_version, None, *at),
    };
    diesel::insert_into(terms_history::table)
        .values(NewRow {
            citizen_id,
            action: change.action(),
            terms_version: version,
            level: level.map(ConsentLevel::as_str),
            at: to_db(at),
        })
        .execute(conn)?;
    Ok(())
}

/// The whole history, oldest first.
pub fn history(
    conn: &mut AnyConnection,
    citizen_id: &str,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let rows: Vec<(String, String, Option<String>, NaiveDateTime)> = terms_history::table
        .filter(terms_history::citizen_id.eq(citizen_id))
        .order(terms_history::id.asc())
        .select((
            terms_history::action,
            terms_history::terms_version,
            terms_history::level,
            terms_history::at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(action, terms_version, level, at)| {
            let level = match level {
                Some(l) => Some(
                    ConsentLevel::parse(&l)
                        .ok_or_else(|| StoreError::Corrupt(format!("consent level {l:?}")))?,
                ),
                None => None,
            };
            Ok(HistoryEntry {
                action,
                terms_version,
                level,
                at: from_db(at),
            })
        })
        .collect()
}
