//! The digital access switches as stored: one row per citizen who ever changed one; no row means
//! every access is open.

use crate::db::{from_db, to_db, AnyConnection, StoreError};
use crate::schema::access_switches as sw;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::access_switches::{AccessSwitches, Switch};

#[derive(Debug, Clone, Default, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = sw, treat_none_as_null = true, treat_none_as_default_value = false)]
struct Row {
    citizen_id: String,
    services_removed_at: Option<NaiveDateTime>,
    patient_record_removed_at: Option<NaiveDateTime>,
    summary_care_record_removed_at: Option<NaiveDateTime>,
    services_changed_at: Option<NaiveDateTime>,
    patient_record_changed_at: Option<NaiveDateTime>,
    summary_care_record_changed_at: Option<NaiveDateTime>,
}

/// A citizen's switches, with when each was last changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoredSwitches {
    pub switches: AccessSwitches,
    pub services_changed_at: Option<DateTime<Utc>>,
    pub patient_record_changed_at: Option<DateTime<Utc>>,
    pub summary_care_record_changed_at: Option<DateTime<Utc>>,
}

impl StoredSwitches {
    pub fn changed_at(&self, switch: Switch) -> Option<DateTime<Utc>> {
        match switch {
            Switch::Services => self.services_changed_at,
            Switch::PatientRecord => self.patient_record_changed_at,
            Switch::SummaryCareRecord => self.summary_care_record_changed_at,
        }
    }
}

impl From<Row> for StoredSwitches {
    fn from(r: Row) -> StoredSwitches {
        StoredSwitches {
            switches: AccessSwitches {
                services_removed: r.services_removed_at.is_some(),
                patient_record_removed: r.patient_record_removed_at.is_some(),
                summary_care_record_removed: r.summary_care_record_removed_at.is_some(),
            },
            services_changed_at: r.services_changed_at.map(from_db),
            patient_record_changed_at: r.patient_record_changed_at.map(from_db),
            summary_care_record_changed_at: r.summary_care_record_changed_at.map(from_db),
        }
    }
}

fn row(conn: &mut AnyConnection, citizen_id: &str) -> Result<Option<Row>, StoreError> {
    Ok(sw::table
        .find(citizen_id)
        .select(Row::as_select())
        .get_result(conn)
        .optional()?)
}

/// The citizen's switches (all open when never changed).
pub fn get(conn: &mut AnyConnection, citizen_id: &str) -> Result<StoredSwitches, StoreError> {
    Ok(row(conn, citizen_id)?
        .map(StoredSwitches::from)
        .unwrap_or_default())
}

/// Sets one switch. Call inside the transaction that records the change, after locking the
/// citizen (`db::lock_citizen`, which `usage_log::append` takes).
pub fn set(
    conn: &mut AnyConnection,
    citizen_id: &str,
    switch: Switch,
    removed: bool,
    now: DateTime<Utc>,
) -> Result<StoredSwitches, StoreError> {
    let existing = row(conn, citizen_id)?;
    let is_new = existing.is_none();
    let mut r = existing.unwrap_or_else(|| Row {
        citizen_id: citizen_id.to_owned(),
        ..Row::default()
    });
    let at = Some(to_db(now));
    let removed_at = removed.then(|| to_db(now));
    match switch {
        Switch::Services => {
            r.services_removed_at = removed_at;
            r.services_changed_at = at;
        }
        Switch::PatientRecord => {
            r.patient_record_removed_at = removed_at;
            r.patient_record_changed_at = at;
        }
        Switch::SummaryCareRecord => {
            r.summary_care_record_removed_at = removed_at;
            r.summary_care_record_changed_at = at;
        }
    }
    if is_new {
        diesel::insert_into(sw::table).values(&r).execute(conn)?;
    } else {
        diesel::update(sw::table.find(citizen_id))
            .set(&r)
            .execute(conn)?;
    }
    Ok(StoredSwitches::from(r))
}

/// Forgets the citizen's switches: every access open again (the terms consent was withdrawn).
pub fn delete(conn: &mut AnyConnection, citizen_id: &str) -> Result<usize, StoreError> {
    Ok(diesel::delete(sw::table.find(citizen_id)).execute(conn)?)
}
