//! Citizens: the opaque id used everywhere, the identity number kept only here, login times and
//! the terms consent in force.

use crate::db::{from_db, to_db, AnyConnection, StoreError};
use crate::schema::citizens;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::consent::{ConsentLevel, TermsConsent};
use domain::identity::NationalId;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = citizens, treat_none_as_default_value = false)]
struct CitizenRow {
    id: String,
    national_id: String,
    created_at: NaiveDateTime,
    last_login_at: Option<NaiveDateTime>,
    previous_login_at: Option<NaiveDateTime>,
    last_login_seq: Option<i64>,
    previous_login_seq: Option<i64>,
    terms_version: Option<String>,
    consent_level: Option<String>,
    consent_accepted_at: Option<NaiveDateTime>,
}

/// A citizen as the rest of the program sees them: no identity number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citizen {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub previous_login_at: Option<DateTime<Utc>>,
    pub previous_login_seq: Option<i64>,
    pub consent: Option<TermsConsent>,
}

impl TryFrom<CitizenRow> for Citizen {
    type Error = StoreError;

    fn try_from(r: CitizenRow) -> Result<Citizen, StoreError> {
        let consent = match (r.terms_version, r.consent_level, r.consent_accepted_at) {
            (Some(version), Some(level), Some(at)) => Some(TermsConsent {
                terms_version: version,
                level: ConsentLevel::parse(&level)
                    .ok_or_else(|| StoreError::Corrupt(format!("consent level {level:?}")))?,
                accepted_at: from_db(at),
            }),
            _ => None,
        };
        Ok(Citizen {
            id: r.id,
            created_at: from_db(r.created_at),
            last_login_at: r.last_login_at.map(from_db),
            previous_login_at: r.previous_login_at.map(from_db),
            previous_login_seq: r.previous_login_seq,
            consent,
        })
    }
}

pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<Citizen>, StoreError> {
    citizens::table
        .find(id)
        .select(CitizenRow::as_select())
        .get_result(conn)
        .optional()?
        .map(Citizen::try_from)
        .transpose()
}

pub fn find_by_national_id(
    conn: &mut AnyConnection,
    national_id: &NationalId,
) -> Result<Option<Citizen>, StoreError> {
    citizens::table
        .filter(citizens::national_id.eq(national_id.expose()))
        .select(CitizenRow::as_select())
        .get_result(conn)
        .optional()?
        .map(Citizen::try_from)
        .transpose()
}

/// The identity number behind an opaque citizen id, for register look-ups. Never log it.
pub fn national_id_of(conn: &mut AnyConnection, id: &str) -> Result<Option<String>, StoreError> {
    Ok(citizens::table
        .find(id)
        .select(citizens::national_id)
        .get_result(conn)
        .optional()?)
}

/// The citizen with this number, created on first sight with a new opaque id.
pub fn find_or_create(
    conn: &mut AnyConnection,
    national_id: &NationalId,
    new_id: impl FnOnce() -> String,
    now: DateTime<Utc>,
) -> Result<Citizen, StoreError> {
    if let Some(c) = find_by_national_id(conn, national_id)? {
        return Ok(c);
    }
    let row = CitizenRow {
        id: new_id(),
        national_id: national_id.expose().to_owned(),
        created_at: to_db(now),
        last_login_at: None,
        previous_login_at: None,
        last_login_seq: None,
        previous_login_seq: None,
        terms_version: None,
        consent_level: None,
        consent_accepted_at: None,
    };
    diesel::insert_into(citizens::table)
        .values(&row)
        .execute(conn)?;
    Citizen::try_from(row)
}

/// Records a login: the previous login moves back one place. `login_seq` is the usage-log entry
/// of this login.
pub fn record_login(
    conn: &mut AnyConnection,
    citizen: &Citizen,
    login_seq: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (prev_at, prev_seq): (Option<NaiveDateTime>, Option<i64>) = citizens::table
        .find(&citizen.id)
        .select((citizens::last_login_at, citizens::last_login_seq))
        .get_result(conn)?;
    diesel::update(citizens::table.find(&citizen.id))
        .set((
            citizens::previous_login_at.eq(prev_at),
            citizens::previous_login_seq.eq(prev_seq),
            citizens::last_login_at.eq(Some(to_db(now))),
            citizens::last_login_seq.eq(Some(login_seq)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Stores the consent in force (or none, after a withdrawal).
pub fn set_consent(
    conn: &mut AnyConnection,
    citizen_id: &str,
    consent: Option<&TermsConsent>,
) -> Result<(), StoreError> {
    diesel::update(citizens::table.find(citizen_id))
        .set((
            citizens::terms_version.eq(consent.map(|c| c.terms_version.clone())),
            citizens::consent_level.eq(consent.map(|c| c.level.as_str())),
            citizens::consent_accepted_at.eq(consent.map(|c| to_db(c.accepted_at))),
        ))
        .execute(conn)?;
    Ok(())
}
