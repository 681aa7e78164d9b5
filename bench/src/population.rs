//! The synthetic population: households with families, powers of attorney, consent, access
//! switches, summary care record states, blocks and objections, children's restrictions, and the
//! size of every citizen's usage log.
//!
//! Everything is a deterministic function of (size, seed, reference time), so the load driver
//! rebuilds the same population in memory to pick its subjects without reading the database.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::Result;
use crate::ids::{self, IdAllocator};

/// The terms version the server runs with (`TERMS_VERSION`), and an older one.
pub const TERMS_IN_FORCE: &str = "2026-01";
pub const TERMS_OLD: &str = "2025-01";

pub const AREAS: [&str; 8] = [
    "appointments",
    "prescriptions",
    "vaccinations",
    "health_registries",
    "co_payments",
    "patient_record",
    "summary_care_record",
    "communication",
];

pub const RECORD_PARTS: [&str; 5] = [
    "critical_information",
    "medicines",
    "vaccinations",
    "hospital_contacts",
    "own_entries",
];

const GIVEN: [&str; 16] = [
    "Ola", "Kari", "Per", "Anne", "Lars", "Ingrid", "Nils", "Marit", "Jonas", "Emma", "Olav",
    "Sofie", "Erik", "Nora", "Henrik", "Sara",
];
const FAMILY: [&str; 12] = [
    "Nordmann",
    "Hansen",
    "Johansen",
    "Olsen",
    "Larsen",
    "Andersen",
    "Pedersen",
    "Nilsen",
    "Kristiansen",
    "Jensen",
    "Karlsen",
    "Berg",
];

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub citizens: usize,
    pub log_rows: u64,
    pub seed: u64,
    /// The reference time of the data (UTC, whole seconds): ages, ends and opt-outs are relative
    /// to it.
    pub now: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct Person {
    pub pid: String,
    /// The portal's opaque id (UUID text).
    pub id: String,
    pub given: &'static str,
    pub family: &'static str,
    pub birth: NaiveDate,
    pub address: Option<String>,
    pub protection: Option<&'static str>,
    pub deceased_on: Option<NaiveDate>,
    /// (terms version, level)
    pub consent: Option<(&'static str, &'static str)>,
    pub created_at: NaiveDateTime,
    pub log_rows: u32,
}

#[derive(Debug, Clone)]
pub struct Poa {
    pub id: String,
    pub grantor: u32,
    pub grantee: u32,
    pub all_areas: bool,
    pub areas: String,
    pub created_at: NaiveDateTime,
    pub valid_until: Option<NaiveDateTime>,
    pub accepted_at: Option<NaiveDateTime>,
    /// (reason, at, by)
    pub ended: Option<(&'static str, NaiveDateTime, u32)>,
}

#[derive(Debug, Clone)]
pub struct SwitchRow {
    pub person: u32,
    /// 0 services, 1 patient record, 2 summary care record
    pub which: u8,
    pub at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct RecordRow {
    pub person: u32,
    pub state: &'static str,
    pub opted_out_at: NaiveDateTime,
    pub purge_ordered_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone)]
pub struct SharingRow {
    pub id: String,
    pub person: u32,
    pub seq: i64,
    pub kind: &'static str,
    pub target_kind: &'static str,
    pub target: String,
    pub created_at: NaiveDateTime,
    pub lifted_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone)]
pub struct ChildRestrictionRow {
    pub id: String,
    pub child: u32,
    pub kind: &'static str,
    pub areas: Option<String>,
    pub guardian: Option<u32>,
    pub registered_at: NaiveDateTime,
}

#[derive(Debug, Default)]
pub struct Population {
    pub persons: Vec<Person>,
    /// (child, parent) pairs of parental responsibility (children under 18).
    pub parents: Vec<(u32, u32)>,
    pub poas: Vec<Poa>,
    pub switches: Vec<SwitchRow>,
    pub records: Vec<RecordRow>,
    pub sharing: Vec<SharingRow>,
    pub child_restrictions: Vec<ChildRestrictionRow>,
    /// HPR numbers of the professionals the load asks for; blocks and objections name them.
    pub hprs: Vec<String>,
    /// Organisation numbers the load asks for; objections name some of them.
    pub orgs: Vec<String>,
}

impl Population {
    pub fn log_rows(&self) -> u64 {
        self.persons.iter().map(|p| u64::from(p.log_rows)).sum()
    }

    /// Indices of the persons sorted by portal id: the order rows keyed by citizen id are written
    /// in, so that index inserts append.
    pub fn by_id(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.persons.len())
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        order.sort_by(|a, b| self.person(*a).id.cmp(&self.person(*b).id));
        order
    }

    pub fn person(&self, i: u32) -> &Person {
        &self.persons[i as usize]
    }
}

fn uuid(rng: &mut StdRng) -> String {
    let mut b: [u8; 16] = rng.gen();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

struct Gen {
    rng: StdRng,
    ids: IdAllocator,
    today: NaiveDate,
    now: NaiveDateTime,
    households: u64,
    pop: Population,
}

impl Gen {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    fn birth_for_age(&mut self, age: i32) -> NaiveDate {
        let year_start =
            NaiveDate::from_ymd_opt(self.today.year() - age - 1, 1, 1).unwrap_or(self.today);
        // Someone of `age` was born within the 365 days before `today - age years`.
        let anchor = self
            .today
            .with_year(self.today.year() - age)
            .unwrap_or(year_start);
        anchor - days(self.rng.gen_range(1..365))
    }

    fn consent(&mut self, age: i32) -> Option<(&'static str, &'static str)> {
        if age < 16 {
            return None;
        }
        let r: f64 = self.rng.gen();
        let version = if r < 0.80 {
            TERMS_IN_FORCE
        } else if r < 0.88 {
            TERMS_OLD
        } else {
            return None;
        };
        let l: f64 = self.rng.gen();
        let level = if l < 0.55 {
            "full"
        } else if l < 0.85 {
            "basis_plus"
        } else {
            "basis"
        };
        Some((version, level))
    }

    fn person(
        &mut self,
        age: i32,
        address: &Option<String>,
        protection: Option<&'static str>,
        family: &'static str,
    ) -> Result<u32> {
        let born = self.birth_for_age(age);
        let (pid, birth) = self.ids.allocate(born)?;
        ids::verify(&pid, birth)?;
        let deceased_on = if age >= 75 && self.chance(0.03) {
            Some(self.today - days(self.rng.gen_range(1..700)))
        } else {
            None
        };
        let consent = self.consent(age);
        let created_at = self.now - days(self.rng.gen_range(10..1500));
        let person = Person {
            pid,
            id: uuid(&mut self.rng),
            given: GIVEN[self.rng.gen_range(0..GIVEN.len())],
            family,
            birth,
            address: address.clone(),
            protection,
            deceased_on,
            consent,
            created_at,
            log_rows: 0,
        };
        let i = u32::try_from(self.pop.persons.len()).unwrap_or(u32::MAX);
        self.pop.persons.push(person);
        Ok(i)
    }

    /// One household: its adults and children, all at one address.
    fn household(&mut self, room: usize) -> Result<()> {
        self.households += 1;
        let address = Some(format!("addr-{:08}", self.households));
        let protection = if self.chance(0.005) {
            Some(if self.chance(0.9) { "7" } else { "6" })
        } else {
            None
        };
        let family = FAMILY[self.rng.gen_range(0..FAMILY.len())];
        let r: f64 = self.rng.gen();
        let (adults, ages, children): (usize, (i32, i32), usize) = if r < 0.30 {
            (1, (18, 95), 0)
        } else if r < 0.55 {
            (2, (25, 92), 0)
        } else if r < 0.90 {
            (2, (25, 55), self.rng.gen_range(1..=3))
        } else {
            (1, (22, 55), self.rng.gen_range(1..=2))
        };
        let mut parents = Vec::new();
        for _ in 0..adults.min(room) {
            let age = self.rng.gen_range(ages.0..=ages.1);
            parents.push(self.person(age, &address, protection, family)?);
        }
        // A single parent shares responsibility with someone living elsewhere (an earlier
        // adult), who then does not live with the child.
        if adults == 1 && children > 0 && self.pop.persons.len() > 100 {
            let other = self
                .rng
                .gen_range(0..self.pop.persons.len() - parents.len());
            let other = u32::try_from(other).unwrap_or(0);
            if self.pop.person(other).birth.year() < self.today.year() - 22 {
                parents.push(other);
            }
        }
        let room = room.saturating_sub(adults);
        for _ in 0..children.min(room) {
            let age = self.rng.gen_range(0..=17);
            let child = self.person(age, &address, protection, family)?;
            for p in &parents {
                self.pop.parents.push((child, *p));
            }
        }
        Ok(())
    }

    fn areas(&mut self) -> String {
        let n = self.rng.gen_range(1..=4);
        let mut picked: Vec<usize> = rand::seq::index::sample(&mut self.rng, AREAS.len(), n)
            .into_iter()
            .collect();
        picked.sort_unstable();
        picked
            .into_iter()
            .map(|i| AREAS[i])
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn powers_of_attorney(&mut self) {
        let adults: Vec<u32> = (0..self.pop.persons.len())
            .filter_map(|i| u32::try_from(i).ok())
            .filter(|i| {
                let age = self.today.year() - self.pop.person(*i).birth.year();
                (25..70).contains(&age)
            })
            .collect();
        if adults.is_empty() {
            return;
        }
        for grantor in 0..self.pop.persons.len() {
            let Ok(grantor) = u32::try_from(grantor) else {
                break;
            };
            let age = self.today.year() - self.pop.person(grantor).birth.year();
            let p = if age >= 70 {
                0.40
            } else if age >= 18 {
                0.03
            } else {
                0.0
            };
            if p == 0.0 || !self.chance(p) {
                continue;
            }
            let grantee = adults[self.rng.gen_range(0..adults.len())];
            if grantee == grantor {
                continue;
            }
            let all_areas = self.chance(0.5);
            let areas = if all_areas {
                String::new()
            } else {
                self.areas()
            };
            let created_at = self.now - days(self.rng.gen_range(30..2000));
            let accepted = created_at + days(1);
            let r: f64 = self.rng.gen();
            let future = self.now + days(self.rng.gen_range(30..1000));
            let (valid_until, accepted_at, ended) = if r < 0.78 {
                let until = if self.chance(0.4) { Some(future) } else { None };
                (until, Some(accepted), None)
            } else if r < 0.86 {
                (None, None, None)
            } else if r < 0.93 {
                let at = accepted + days(10);
                (
                    None,
                    Some(accepted),
                    Some(("revoked_by_grantor", at, grantor)),
                )
            } else if r < 0.97 {
                (Some(created_at + days(20)), Some(accepted), None)
            } else {
                (None, None, Some(("declined", accepted, grantee)))
            };
            let id = uuid(&mut self.rng);
            self.pop.poas.push(Poa {
                id,
                grantor,
                grantee,
                all_areas,
                areas,
                created_at,
                valid_until,
                accepted_at,
                ended,
            });
        }
    }

    fn choices(&mut self) {
        let n = self.pop.persons.len();
        let hot = self.pop.hprs.len().min(50);
        for i in 0..n {
            let Ok(person) = u32::try_from(i) else {
                break;
            };
            if self.chance(0.02) {
                let which = self.rng.gen_range(0..3);
                let at = self.now - days(self.rng.gen_range(1..900));
                self.pop.switches.push(SwitchRow { person, which, at });
            }
            let r: f64 = self.rng.gen();
            if r < 0.02 {
                let at = self.now - days(self.rng.gen_range(1..20));
                self.pop.records.push(RecordRow {
                    person,
                    state: "opted_out",
                    opted_out_at: at,
                    purge_ordered_at: None,
                });
            } else if r < 0.025 {
                let at = self.now - days(self.rng.gen_range(40..400));
                self.pop.records.push(RecordRow {
                    person,
                    state: "purged",
                    opted_out_at: at,
                    purge_ordered_at: Some(at + days(30)),
                });
            }
            let mut seq = 0;
            let mut push = |g: &mut Gen, kind, target_kind, target: String, lifted: bool| {
                seq += 1;
                let created_at = g.now - days(g.rng.gen_range(40..900));
                let id = uuid(&mut g.rng);
                g.pop.sharing.push(SharingRow {
                    id,
                    person,
                    seq,
                    kind,
                    target_kind,
                    target,
                    created_at,
                    lifted_at: lifted.then(|| created_at + days(20)),
                });
            };
            let r: f64 = self.rng.gen();
            if r < 0.01 {
                push(self, "block", "whole_record", String::new(), false);
            } else if r < 0.025 {
                let n = self.rng.gen_range(1..=2);
                for p in rand::seq::index::sample(&mut self.rng, RECORD_PARTS.len(), n) {
                    push(self, "block", "part", RECORD_PARTS[p].to_owned(), false);
                }
            } else if r < 0.03 {
                let h = self.pop.hprs[self.rng.gen_range(0..hot)].clone();
                push(self, "block", "professional", h, false);
            }
            if self.chance(0.01) {
                if self.chance(0.6) {
                    let h = self.pop.hprs[self.rng.gen_range(0..hot)].clone();
                    push(self, "objection", "professional", h, false);
                } else {
                    let o = self.pop.orgs[self.rng.gen_range(0..self.pop.orgs.len())].clone();
                    push(self, "objection", "organisation", o, false);
                }
            }
            // History: a lifted block of a part.
            if self.chance(0.005) {
                let part = RECORD_PARTS[self.rng.gen_range(0..RECORD_PARTS.len())];
                push(self, "block", "part", part.to_owned(), true);
            }
        }
    }

    fn child_restrictions(&mut self) {
        let parents = std::mem::take(&mut self.pop.parents);
        let mut last_child = None;
        for (child, parent) in &parents {
            if last_child == Some(*child) {
                continue;
            }
            last_child = Some(*child);
            let age = self.today.year() - self.pop.person(*child).birth.year();
            if (12..16).contains(&age) && self.chance(0.02) {
                let areas = if self.chance(0.5) {
                    Some("vaccinations appointments".to_owned())
                } else {
                    None
                };
                self.restriction(*child, "refusal", areas, None);
            }
            if age < 16 && self.chance(0.005) {
                let guardian = if self.chance(0.7) {
                    Some(*parent)
                } else {
                    None
                };
                self.restriction(*child, "denial", None, guardian);
            }
        }
        self.pop.parents = parents;
    }

    fn restriction(
        &mut self,
        child: u32,
        kind: &'static str,
        areas: Option<String>,
        guardian: Option<u32>,
    ) {
        let id = uuid(&mut self.rng);
        let registered_at = self.now - days(self.rng.gen_range(1..300));
        self.pop.child_restrictions.push(ChildRestrictionRow {
            id,
            child,
            kind,
            areas,
            guardian,
            registered_at,
        });
    }

    /// Spreads exactly `total` usage-log rows over the citizens (0 to 20 each, about evenly).
    fn log_sizes(&mut self, total: u64) {
        let n = self.pop.persons.len();
        if n == 0 {
            return;
        }
        let mean = u32::try_from(total / n as u64).unwrap_or(u32::MAX / 2);
        let mut sum: u64 = 0;
        for p in &mut self.pop.persons {
            p.log_rows = self.rng.gen_range(0..=mean.saturating_mul(2));
            sum += u64::from(p.log_rows);
        }
        while sum != total {
            let i = self.rng.gen_range(0..n);
            let p = &mut self.pop.persons[i];
            if sum < total {
                p.log_rows += 1;
                sum += 1;
            } else if p.log_rows > 0 {
                p.log_rows -= 1;
                sum -= 1;
            }
        }
    }
}

/// Builds the population of `spec`.
pub fn generate(spec: &Spec) -> Result<Population> {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(spec.seed),
        ids: IdAllocator::default(),
        today: spec.now.date(),
        now: spec.now,
        households: 0,
        pop: Population::default(),
    };
    g.pop.hprs = (0..500).map(|i| format!("{}", 9_100_000 + i * 7)).collect();
    g.pop.orgs = (91_000_000..)
        .step_by(37)
        .filter_map(ids::organisation_number)
        .take(100)
        .collect();
    while g.pop.persons.len() < spec.citizens {
        let room = spec.citizens - g.pop.persons.len();
        g.household(room)?;
    }
    g.powers_of_attorney();
    g.choices();
    g.child_restrictions();
    g.log_sizes(spec.log_rows);
    Ok(g.pop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(n: usize) -> Spec {
        Spec {
            citizens: n,
            log_rows: 10 * n as u64,
            seed: 7,
            now: NaiveDate::from_ymd_opt(2026, 11, 30)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap(),
        }
    }

    #[test]
    fn the_population_has_the_asked_size_and_is_reproducible() {
        let a = generate(&spec(5_000)).unwrap();
        let b = generate(&spec(5_000)).unwrap();
        assert_eq!(a.persons.len(), 5_000);
        assert_eq!(a.log_rows(), 50_000);
        assert_eq!(a.persons[4_321].pid, b.persons[4_321].pid);
        assert_eq!(a.persons[4_321].id, b.persons[4_321].id);
        assert!(!a.poas.is_empty() && !a.parents.is_empty() && !a.sharing.is_empty());
        let pids: std::collections::HashSet<_> = a.persons.iter().map(|p| &p.pid).collect();
        assert_eq!(pids.len(), 5_000);
    }
}
