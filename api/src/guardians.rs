//! Loading what `domain::guardianship` decides on: a child's register data, their parents (with
//! their portal ids and addresses), the restrictions in force and the child's switches. Read on
//! every call, inside the request's transaction: a register import or a new restriction takes
//! effect on the next request.

use chrono::{DateTime, Utc};
use domain::consent;
use domain::guardianship::{guardian_access, ChildFacts, GuardianAccess, Parent};
use domain::identity::NationalId;
use domain::register::{PopulationRegister, RegisteredPerson};
use persistence::citizens::{self, Citizen};
use persistence::register::DbRegister;
use persistence::{access_switches, children, AnyConnection};

use crate::config::Config;
use crate::error::ApiError;

/// A child under the rules, with the portal id used for their log and restrictions.
#[derive(Debug, Clone)]
pub struct Child {
    /// The child's portal id; `None` when the portal has never seen the child (then no
    /// restriction or switch can exist for them either).
    pub citizen_id: Option<String>,
    pub facts: ChildFacts,
}

impl Child {
    pub fn name(&self) -> String {
        full_name(&self.facts.child)
    }
}

pub fn full_name(p: &RegisteredPerson) -> String {
    format!("{} {}", p.given_name, p.family_name)
}

/// The facts about the child with this number, or `None` when the register does not know them.
pub fn child(
    conn: &mut AnyConnection,
    pid: &NationalId,
    config: &Config,
) -> Result<Option<Child>, ApiError> {
    child_knowing(conn, pid, config, &[])
}

/// A person's portal id as the caller already read it in this transaction: `None` inside means
/// the portal has no citizen with that number.
pub type KnownCitizen<'a> = (&'a NationalId, Option<&'a str>);

/// [`child`], without reading again the portal ids the caller has in `known` (a decision on a
/// pair has read the actor's and the subject's: a round trip each on a first sight).
pub fn child_knowing(
    conn: &mut AnyConnection,
    pid: &NationalId,
    config: &Config,
    known: &[KnownCitizen<'_>],
) -> Result<Option<Child>, ApiError> {
    let Some(person) = DbRegister(conn).person(pid)? else {
        return Ok(None);
    };
    let citizen_id_of =
        |conn: &mut AnyConnection, pid: &NationalId| match known.iter().find(|(p, _)| *p == pid) {
            Some((_, id)) => Ok::<_, ApiError>(id.map(str::to_owned)),
            None => Ok(citizens::find_by_national_id(conn, pid)?.map(|c| c.id)),
        };
    let citizen_id = citizen_id_of(conn, pid)?;
    let mut parents = Vec::new();
    for parent_pid in DbRegister(conn).parents_of(pid)? {
        // A number the deployment's policy refuses cannot belong to anyone who logs in.
        let Ok(parent_pid) = NationalId::parse(&parent_pid, config.id_policy()) else {
            continue;
        };
        parents.push(Parent {
            citizen_id: citizen_id_of(conn, &parent_pid)?,
            person: DbRegister(conn).person(&parent_pid)?,
        });
    }
    let (restrictions, switches) = match &citizen_id {
        Some(id) => (
            children::in_force(conn, id)?,
            access_switches::get(conn, id)?.switches,
        ),
        None => (Vec::new(), Default::default()),
    };
    Ok(Some(Child {
        citizen_id,
        facts: ChildFacts {
            child: person,
            parents,
            restrictions,
            switches,
        },
    }))
}

/// What `guardian` reaches for `child` now.
pub fn access_of(
    child: &Child,
    guardian: &Citizen,
    config: &Config,
    now: DateTime<Utc>,
) -> GuardianAccess {
    let guardian_consent = consent::status(guardian.consent.as_ref(), &config.terms_version);
    guardian_access(&child.facts, &guardian.id, &guardian_consent, now)
}

/// Every child the register shows `guardian` with parental responsibility for, with what the
/// guardian reaches for each now. Children the portal has not seen get a portal id here, so
/// that the guardian can select them and their log can be written.
pub fn children_of(
    conn: &mut AnyConnection,
    guardian: &Citizen,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<(Child, GuardianAccess)>, ApiError> {
    let Some(my_pid) = citizens::national_id_of(conn, &guardian.id)? else {
        return Ok(Vec::new());
    };
    let Ok(my_pid) = NationalId::parse(&my_pid, config.id_policy()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for child_pid in DbRegister(conn).children_of(&my_pid)? {
        let Ok(child_pid) = NationalId::parse(&child_pid, config.id_policy()) else {
            continue;
        };
        let Some(mut child) = child(conn, &child_pid, config)? else {
            continue;
        };
        let access = access_of(&child, guardian, config, now);
        if matches!(access, GuardianAccess::Ended | GuardianAccess::NotGuardian) {
            continue;
        }
        if child.citizen_id.is_none() {
            let created = citizens::find_or_create(
                conn,
                &child_pid,
                || uuid::Uuid::new_v4().to_string(),
                now,
            )?;
            child.citizen_id = Some(created.id);
        }
        out.push((child, access));
    }
    Ok(out)
}
