//! Data-subject requests as stored (rules: `domain::data_requests`).

use crate::db::{from_db, to_db, AnyConnection, StoreError};
use crate::schema::data_requests as dr;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use domain::data_requests::{Extension, Ground, Kind, Outcome, Request};

/// A stored request: who, what, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRequest {
    pub id: String,
    pub subject_id: String,
    pub filed_by: String,
    pub kind: Kind,
    pub text: String,
    pub categories: Vec<String>,
    pub state: Request,
    /// The machine client of the latest step.
    pub handled_by: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = dr, treat_none_as_null = true, treat_none_as_default_value = false)]
struct Row {
    id: String,
    subject_id: String,
    filed_by: String,
    kind: String,
    text: String,
    categories: String,
    received_at: NaiveDateTime,
    acknowledged_at: Option<NaiveDateTime>,
    extended_at: Option<NaiveDateTime>,
    extension_reason: Option<String>,
    deadline: NaiveDateTime,
    closed_at: Option<NaiveDateTime>,
    outcome: Option<String>,
    outcome_detail: Option<String>,
    handled_by: Option<String>,
}

impl From<&StoredRequest> for Row {
    fn from(s: &StoredRequest) -> Row {
        let r = &s.state;
        let (closed_at, outcome, detail) = match &r.outcome {
            None => (None, None, None),
            Some(Outcome::Answered { at, text, document }) => (
                Some(to_db(*at)),
                Some("answered".to_owned()),
                Some(serde_json::json!({ "text": text, "document": document })),
            ),
            Some(Outcome::Refused {
                at,
                reason,
                provision,
                ground,
            }) => (
                Some(to_db(*at)),
                Some("refused".to_owned()),
                Some(serde_json::json!({
                    "reason": reason, "provision": provision, "ground": ground.as_str()
                })),
            ),
        };
        Row {
            id: s.id.clone(),
            subject_id: s.subject_id.clone(),
            filed_by: s.filed_by.clone(),
            kind: s.kind.as_str().to_owned(),
            text: s.text.clone(),
            categories: s.categories.join(" "),
            received_at: to_db(r.received_at),
            acknowledged_at: r.acknowledged_at.map(to_db),
            extended_at: r.extension.as_ref().map(|e| to_db(e.announced_at)),
            extension_reason: r.extension.as_ref().map(|e| e.reason.clone()),
            deadline: to_db(r.deadline()),
            closed_at,
            outcome,
            outcome_detail: detail.map(|d| d.to_string()),
            handled_by: s.handled_by.clone(),
        }
    }
}

impl TryFrom<Row> for StoredRequest {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<StoredRequest, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("data request {}: {what}", r.id));
        let kind = Kind::parse(&r.kind).ok_or_else(|| corrupt("kind"))?;
        let extension = match (r.extended_at, r.extension_reason.clone()) {
            (Some(at), Some(reason)) => Some(Extension {
                announced_at: from_db(at),
                reason,
            }),
            _ => None,
        };
        let detail: serde_json::Value = r
            .outcome_detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        let field = |k: &str| detail[k].as_str().unwrap_or_default().to_owned();
        let outcome = match (r.outcome.as_deref(), r.closed_at) {
            (None, _) => None,
            (Some("answered"), Some(at)) => Some(Outcome::Answered {
                at: from_db(at),
                text: field("text"),
                document: detail["document"].as_str().map(str::to_owned),
            }),
            (Some("refused"), Some(at)) => Some(Outcome::Refused {
                at: from_db(at),
                reason: field("reason"),
                provision: field("provision"),
                ground: Ground::parse(&field("ground")).ok_or_else(|| corrupt("ground"))?,
            }),
            _ => return Err(corrupt("outcome")),
        };
        Ok(StoredRequest {
            id: r.id,
            subject_id: r.subject_id,
            filed_by: r.filed_by,
            kind,
            text: r.text,
            categories: r.categories.split_whitespace().map(str::to_owned).collect(),
            state: Request {
                received_at: from_db(r.received_at),
                acknowledged_at: r.acknowledged_at.map(from_db),
                extension,
                outcome,
            },
            handled_by: r.handled_by,
        })
    }
}

pub fn insert(conn: &mut AnyConnection, s: &StoredRequest) -> Result<(), StoreError> {
    diesel::insert_into(dr::table)
        .values(Row::from(s))
        .execute(conn)?;
    Ok(())
}

/// Stores `s`'s new state.
pub fn update(conn: &mut AnyConnection, s: &StoredRequest) -> Result<(), StoreError> {
    diesel::update(dr::table.find(&s.id))
        .set(Row::from(s))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<StoredRequest>, StoreError> {
    dr::table
        .find(id)
        .select(Row::as_select())
        .get_result(conn)
        .optional()?
        .map(StoredRequest::try_from)
        .transpose()
}

/// The subject's requests, newest first.
pub fn of_subject(
    conn: &mut AnyConnection,
    subject_id: &str,
) -> Result<Vec<StoredRequest>, StoreError> {
    dr::table
        .filter(dr::subject_id.eq(subject_id))
        .order((dr::received_at.desc(), dr::id.desc()))
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(StoredRequest::try_from)
        .collect()
}

/// Open requests, the earliest deadline first.
pub fn open(conn: &mut AnyConnection, limit: i64) -> Result<Vec<StoredRequest>, StoreError> {
    dr::table
        .filter(dr::closed_at.is_null())
        .order((dr::deadline.asc(), dr::received_at.asc(), dr::id.asc()))
        .limit(limit)
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(StoredRequest::try_from)
        .collect()
}

/// Locks request `id` for the rest of the transaction (PostgreSQL; SQLite has one writer).
pub fn lock(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(pg) = conn {
        diesel::sql_query("SELECT id FROM data_requests WHERE id = $1 FOR UPDATE")
            .bind::<diesel::sql_types::Text, _>(id)
            .execute(pg)?;
    }
    Ok(())
}
