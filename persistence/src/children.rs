//! Restrictions on guardians' access to a child, as stored: the child's refusal and a denial on
//! weighty reasons, registered and lifted by health personnel systems. Lifted ones stay.

use crate::db::{from_db, to_db, AnyConnection, StoreError};
use crate::schema::child_restrictions as cr;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::guardianship::{RefusalScope, Restriction};
use domain::powers_of_attorney::ServiceArea;

/// The health professional who registered or lifted a restriction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub hpr_number: String,
    pub organisation_number: String,
    pub organisation_name: String,
}

/// A stored restriction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRestriction {
    pub id: String,
    pub child_id: String,
    pub restriction: Restriction,
    pub basis: String,
    pub registered_by: Author,
    pub client_id: String,
    pub registered_at: DateTime<Utc>,
    pub lifted: Option<Lifting>,
}

/// Who lifted a restriction, when and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifting {
    pub at: DateTime<Utc>,
    pub basis: String,
    pub by: Author,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = cr, treat_none_as_default_value = false)]
struct Row {
    id: String,
    child_id: String,
    kind: String,
    areas: Option<String>,
    guardian_id: Option<String>,
    basis: String,
    author_hpr: String,
    author_org_number: String,
    author_org_name: String,
    client_id: String,
    registered_at: NaiveDateTime,
    lifted_at: Option<NaiveDateTime>,
    lift_basis: Option<String>,
    lifted_by_hpr: Option<String>,
    lifted_by_org_number: Option<String>,
    lifted_by_org_name: Option<String>,
}

const REFUSAL: &str = "refusal";
const DENIAL: &str = "denial";

impl TryFrom<Row> for StoredRestriction {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<StoredRestriction, StoreError> {
        let restriction = match r.kind.as_str() {
            REFUSAL => Restriction::Refusal(match &r.areas {
                None => RefusalScope::Whole,
                Some(text) => RefusalScope::Areas(
                    text.split_whitespace()
                        .map(|a| {
                            ServiceArea::parse(a)
                                .ok_or_else(|| StoreError::Corrupt(format!("service area {a:?}")))
                        })
                        .collect::<Result<_, _>>()?,
                ),
            }),
            DENIAL => Restriction::Denial {
                guardian_id: r.guardian_id.clone(),
            },
            other => return Err(StoreError::Corrupt(format!("restriction kind {other:?}"))),
        };
        let lifted = match (r.lifted_at, r.lift_basis, r.lifted_by_hpr) {
            (Some(at), Some(basis), Some(hpr)) => Some(Lifting {
                at: from_db(at),
                basis,
                by: Author {
                    hpr_number: hpr,
                    organisation_number: r.lifted_by_org_number.unwrap_or_default(),
                    organisation_name: r.lifted_by_org_name.unwrap_or_default(),
                },
            }),
            _ => None,
        };
        Ok(StoredRestriction {
            id: r.id,
            child_id: r.child_id,
            restriction,
            basis: r.basis,
            registered_by: Author {
                hpr_number: r.author_hpr,
                organisation_number: r.author_org_number,
                organisation_name: r.author_org_name,
            },
            client_id: r.client_id,
            registered_at: from_db(r.registered_at),
            lifted,
        })
    }
}

pub fn insert(conn: &mut AnyConnection, s: &StoredRestriction) -> Result<(), StoreError> {
    let (kind, areas, guardian_id) = match &s.restriction {
        Restriction::Refusal(RefusalScope::Whole) => (REFUSAL, None, None),
        Restriction::Refusal(RefusalScope::Areas(a)) => (
            REFUSAL,
            Some(a.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(" ")),
            None,
        ),
        Restriction::Denial { guardian_id } => (DENIAL, None, guardian_id.clone()),
    };
    diesel::insert_into(cr::table)
        .values(Row {
            id: s.id.clone(),
            child_id: s.child_id.clone(),
            kind: kind.to_owned(),
            areas,
            guardian_id,
            basis: s.basis.clone(),
            author_hpr: s.registered_by.hpr_number.clone(),
            author_org_number: s.registered_by.organisation_number.clone(),
            author_org_name: s.registered_by.organisation_name.clone(),
            client_id: s.client_id.clone(),
            registered_at: to_db(s.registered_at),
            lifted_at: None,
            lift_basis: None,
            lifted_by_hpr: None,
            lifted_by_org_number: None,
            lifted_by_org_name: None,
        })
        .execute(conn)?;
    Ok(())
}

/// Every restriction of the child, newest first, lifted ones included.
pub fn of_child(
    conn: &mut AnyConnection,
    child_id: &str,
) -> Result<Vec<StoredRestriction>, StoreError> {
    cr::table
        .filter(cr::child_id.eq(child_id))
        .order((cr::registered_at.desc(), cr::id.desc()))
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(StoredRestriction::try_from)
        .collect()
}

/// The child's restrictions in force (not lifted), as the rules read them.
pub fn in_force(conn: &mut AnyConnection, child_id: &str) -> Result<Vec<Restriction>, StoreError> {
    cr::table
        .filter(cr::child_id.eq(child_id))
        .filter(cr::lifted_at.is_null())
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(|r| StoredRestriction::try_from(r).map(|s| s.restriction))
        .collect()
}

pub fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<StoredRestriction>, StoreError> {
    cr::table
        .find(id)
        .select(Row::as_select())
        .get_result(conn)
        .optional()?
        .map(StoredRestriction::try_from)
        .transpose()
}

/// Lifts restriction `id` unless already lifted; true when this call lifted it. The `lifted_at IS
/// NULL` condition makes two concurrent liftings lift it once.
pub fn lift(conn: &mut AnyConnection, id: &str, lifting: &Lifting) -> Result<bool, StoreError> {
    let n = diesel::update(cr::table.find(id).filter(cr::lifted_at.is_null()))
        .set((
            cr::lifted_at.eq(Some(to_db(lifting.at))),
            cr::lift_basis.eq(Some(&lifting.basis)),
            cr::lifted_by_hpr.eq(Some(&lifting.by.hpr_number)),
            cr::lifted_by_org_number.eq(Some(&lifting.by.organisation_number)),
            cr::lifted_by_org_name.eq(Some(&lifting.by.organisation_name)),
        ))
        .execute(conn)?;
    Ok(n == 1)
}
