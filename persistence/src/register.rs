//! The population register extract: the JSON file format, its validation, the import that makes
//! the stored register equal to a file, and the lookups behind `domain::register`'s port.
//!
//! Lookups read the tables on every call (no cache), so an import takes effect on the next
//! request. The format and the import are described in docs/REGISTER.md.
//!
//! Identity numbers are the register's keys, so they are everywhere here; none of them may reach
//! an error message or a log line. Errors name an entry by its index and field instead.

use crate::db::{to_db, AnyConnection, StoreError};
use crate::schema::{register_imports, register_parents, register_persons};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::identity::{IdPolicy, NationalId};
use domain::register::{AddressProtection, PopulationRegister, RegisteredPerson};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

// ------------------------------------------------------------------ the file format

/// The extract file: `{"version": 1, "persons": [...]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterExtract {
    pub version: u32,
    pub persons: Vec<ExtractPerson>,
}

/// One person as the file has them. Unvalidated: see [`parse_extract`]. (No `Debug`: it would
/// print the number.)
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractPerson {
    pub pid: String,
    pub given_name: String,
    pub family_name: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    #[serde(default)]
    pub address_id: Option<String>,
    /// `null`, `"7"` (fortrolig) or `"6"` (strengt fortrolig).
    #[serde(default)]
    pub confidential_address: Option<String>,
    /// The date of death, `YYYY-MM-DD`, or `null`.
    #[serde(default)]
    pub deceased: Option<String>,
    /// The numbers of the persons with parental responsibility.
    #[serde(default)]
    pub parents: Vec<String>,
    /// Free text for people reading the file; ignored.
    #[serde(default)]
    pub description: Option<String>,
}

/// The format's field names: the only names an error message may repeat from the file.
const FIELDS: [&str; 11] = [
    "version",
    "persons",
    "pid",
    "given_name",
    "family_name",
    "birth_date",
    "address_id",
    "confidential_address",
    "deceased",
    "parents",
    "description",
];

/// A validated entry of the extract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidPerson {
    pub id: NationalId,
    pub person: RegisteredPerson,
    /// Persons with parental responsibility, in the file's order, without repeats.
    pub parents: Vec<NationalId>,
}

/// Why an extract was refused. Names the entry by index and the field; never holds a value from
/// the file (so no identity number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtractError {
    /// Not JSON at all, or cut short.
    Syntax { line: usize, column: usize },
    /// A problem outside the entries (`version`, `persons`, the document itself).
    Document { field: String, problem: String },
    /// A problem with `persons[index]`; `field` is empty when it is the entry as a whole.
    Entry {
        index: usize,
        field: String,
        problem: String,
    },
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtractError::Syntax { line, column } => write!(
                f,
                "register extract: not valid JSON (line {line}, column {column})"
            ),
            ExtractError::Document { field, problem } if field.is_empty() => {
                write!(f, "register extract: {problem}")
            }
            ExtractError::Document { field, problem } => {
                write!(f, "register extract: {field}: {problem}")
            }
            ExtractError::Entry {
                index,
                field,
                problem,
            } if field.is_empty() => write!(f, "register extract: persons[{index}]: {problem}"),
            ExtractError::Entry {
                index,
                field,
                problem,
            } => write!(f, "register extract: persons[{index}].{field}: {problem}"),
        }
    }
}

impl std::error::Error for ExtractError {}

impl ExtractError {
    fn entry(index: usize, field: &str, problem: impl Into<String>) -> ExtractError {
        ExtractError::Entry {
            index,
            field: field.to_owned(),
            problem: problem.into(),
        }
    }

    /// Rebuilds a serde error from its path and kind only: serde's own messages may quote the
    /// offending value (an identity number) or an unknown key.
    fn from_json(e: serde_path_to_error::Error<serde_json::Error>) -> ExtractError {
        use serde_path_to_error::Segment;
        let inner = e.inner();
        if !matches!(inner.classify(), serde_json::error::Category::Data) {
            return ExtractError::Syntax {
                line: inner.line(),
                column: inner.column(),
            };
        }
        let mut index = None;
        let mut parts: Vec<String> = Vec::new();
        for segment in e.path().iter() {
            match segment {
                Segment::Seq { index: i } if index.is_none() && parts == ["persons"] => {
                    index = Some(*i);
                    parts.clear();
                }
                Segment::Seq { index: i } => match parts.last_mut() {
                    Some(last) => last.push_str(&format!("[{i}]")),
                    None => parts.push(format!("[{i}]")),
                },
                Segment::Map { key } if FIELDS.contains(&key.as_str()) => parts.push(key.clone()),
                Segment::Map { .. } | Segment::Enum { .. } | Segment::Unknown => {
                    parts.push("?".to_owned());
                }
            }
        }
        let message = inner.to_string();
        let quoted_field = || {
            message
                .split('`')
                .nth(1)
                .filter(|name| FIELDS.contains(name))
                .map(str::to_owned)
        };
        let problem: String = if message.starts_with("missing field") {
            match quoted_field() {
                Some(name) => {
                    parts.push(name);
                    "is missing".to_owned()
                }
                None => "a required field is missing".to_owned(),
            }
        } else if message.starts_with("duplicate field") {
            match quoted_field() {
                Some(name) => {
                    parts.push(name);
                    "appears twice".to_owned()
                }
                None => "has a field twice".to_owned(),
            }
        } else if message.starts_with("unknown field") {
            // The path ends with the unknown key itself, which is not repeated.
            if parts.last().is_some_and(|p| p == "?") {
                parts.pop();
            }
            let allowed = if index.is_some() {
                &FIELDS[2..]
            } else {
                &FIELDS[..2]
            };
            format!(
                "has a field the format does not have (allowed: {})",
                allowed.join(", ")
            )
        } else if message.starts_with("invalid type") {
            let field = parts.join(".");
            format!(
                "has the wrong JSON type (expected {})",
                expected_type(index.is_some(), &field)
            )
        } else {
            "is not valid".to_owned()
        };
        let field = parts.join(".");
        match index {
            Some(index) => ExtractError::Entry {
                index,
                field,
                problem,
            },
            None => ExtractError::Document { field, problem },
        }
    }
}

fn expected_type(in_entry: bool, field: &str) -> &'static str {
    match (in_entry, field) {
        (false, "") => "an object",
        (false, "version") => "a whole number",
        (false, "persons") => "a list of objects",
        (true, "") => "an object",
        (true, "address_id" | "confidential_address" | "deceased" | "description") => {
            "a string or null"
        }
        (true, "parents") => "a list of strings",
        _ => "a string",
    }
}

/// A `YYYY-MM-DD` date, exactly.
fn strict_date(s: &str) -> Option<NaiveDate> {
    let shape = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

fn validate(
    index: usize,
    p: &ExtractPerson,
    policy: IdPolicy,
) -> Result<ValidPerson, ExtractError> {
    let bad = |field: &str, problem: String| ExtractError::entry(index, field, problem);
    let id = NationalId::parse(&p.pid, policy).map_err(|e| bad("pid", e.to_string()))?;
    if p.given_name.trim().is_empty() {
        return Err(bad("given_name", "is empty".into()));
    }
    if p.family_name.trim().is_empty() {
        return Err(bad("family_name", "is empty".into()));
    }
    let birth_date = strict_date(&p.birth_date)
        .ok_or_else(|| bad("birth_date", "is not a date (YYYY-MM-DD)".into()))?;
    if p.address_id.as_deref().is_some_and(|a| a.trim().is_empty()) {
        return Err(bad("address_id", "is empty (null means no address)".into()));
    }
    let protection = match p.confidential_address.as_deref() {
        None => None,
        Some(code) => Some(AddressProtection::from_code(code).ok_or_else(|| {
            bad(
                "confidential_address",
                "must be \"7\", \"6\" or null".into(),
            )
        })?),
    };
    let deceased_on = match p.deceased.as_deref() {
        None => None,
        Some(d) => {
            let d = strict_date(d)
                .ok_or_else(|| bad("deceased", "is not a date (YYYY-MM-DD) or null".into()))?;
            if d < birth_date {
                return Err(bad("deceased", "is before birth_date".into()));
            }
            Some(d)
        }
    };
    let mut parents: Vec<NationalId> = Vec::with_capacity(p.parents.len());
    for (j, raw) in p.parents.iter().enumerate() {
        let field = format!("parents[{j}]");
        let parent = NationalId::parse(raw, policy).map_err(|e| bad(&field, e.to_string()))?;
        if parent == id {
            return Err(bad(&field, "is the person's own number".into()));
        }
        if let Some(k) = parents.iter().position(|q| *q == parent) {
            return Err(bad(&field, format!("is the same number as parents[{k}]")));
        }
        parents.push(parent);
    }
    Ok(ValidPerson {
        id,
        person: RegisteredPerson {
            given_name: p.given_name.clone(),
            family_name: p.family_name.clone(),
            birth_date,
            address_id: p.address_id.clone(),
            protection,
            deceased_on,
        },
        parents,
    })
}

/// Reads and validates a whole extract. Every entry must be valid, and no number may appear
/// twice; parents are valid numbers (they need not be entries of the file). The first problem
/// found is returned, naming the entry by index and field.
pub fn parse_extract(json: &[u8], policy: IdPolicy) -> Result<Vec<ValidPerson>, ExtractError> {
    // serde would also take a struct as a list of its fields; the format is an object.
    let first = json.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(ExtractError::Document {
            field: String::new(),
            problem: "has the wrong JSON type (expected an object)".into(),
        });
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    let extract: RegisterExtract =
        serde_path_to_error::deserialize(&mut de).map_err(ExtractError::from_json)?;
    de.end().map_err(|e| ExtractError::Syntax {
        line: e.line(),
        column: e.column(),
    })?;
    if extract.version != 1 {
        return Err(ExtractError::Document {
            field: "version".into(),
            problem: "only version 1 is supported".into(),
        });
    }
    let mut first_index: HashMap<String, usize> = HashMap::with_capacity(extract.persons.len());
    let mut persons = Vec::with_capacity(extract.persons.len());
    for (index, entry) in extract.persons.iter().enumerate() {
        let valid = validate(index, entry, policy)?;
        if let Some(first) = first_index.insert(valid.id.expose().to_owned(), index) {
            return Err(ExtractError::entry(
                index,
                "pid",
                format!("is the same number as persons[{first}].pid"),
            ));
        }
        persons.push(valid);
    }
    Ok(persons)
}

// ------------------------------------------------------------------ storage

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = register_persons, treat_none_as_default_value = false)]
struct PersonRow {
    national_id: String,
    given_name: String,
    family_name: String,
    birth_date: NaiveDate,
    address_id: Option<String>,
    protection: Option<String>,
    deceased_on: Option<NaiveDate>,
    imported_at: NaiveDateTime,
}

impl PersonRow {
    fn new(p: &ValidPerson, now: NaiveDateTime) -> PersonRow {
        PersonRow {
            national_id: p.id.expose().to_owned(),
            given_name: p.person.given_name.clone(),
            family_name: p.person.family_name.clone(),
            birth_date: p.person.birth_date,
            address_id: p.person.address_id.clone(),
            protection: p.person.protection.map(|c| c.code().to_owned()),
            deceased_on: p.person.deceased_on,
            imported_at: now,
        }
    }

    /// Equal apart from when it was imported.
    fn same_data(&self, other: &PersonRow) -> bool {
        self.national_id == other.national_id
            && self.given_name == other.given_name
            && self.family_name == other.family_name
            && self.birth_date == other.birth_date
            && self.address_id == other.address_id
            && self.protection == other.protection
            && self.deceased_on == other.deceased_on
    }

    fn into_person(self) -> Result<RegisteredPerson, StoreError> {
        let protection = match self.protection.as_deref() {
            None => None,
            Some(code) => Some(AddressProtection::from_code(code).ok_or_else(|| {
                StoreError::Corrupt("a register person's protection code is not 6 or 7".into())
            })?),
        };
        Ok(RegisteredPerson {
            given_name: self.given_name,
            family_name: self.family_name,
            birth_date: self.birth_date,
            address_id: self.address_id,
            protection,
            deceased_on: self.deceased_on,
        })
    }
}

/// What an import did, in persons. A person counts as changed when any of their data or their
/// set of parents changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportReport {
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub unchanged: usize,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "added {}, changed {}, removed {}, unchanged {}",
            self.added, self.changed, self.removed, self.unchanged
        )
    }
}

fn insert_parents(
    conn: &mut AnyConnection,
    child: &str,
    parents: &BTreeSet<String>,
) -> Result<(), StoreError> {
    // One row at a time: MultiConnection cannot insert a Vec in one statement.
    for parent in parents {
        diesel::insert_into(register_parents::table)
            .values((
                register_parents::child_id.eq(child),
                register_parents::parent_id.eq(parent),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn delete_parents(conn: &mut AnyConnection, child: &str) -> Result<(), StoreError> {
    diesel::delete(register_parents::table.filter(register_parents::child_id.eq(child)))
        .execute(conn)?;
    Ok(())
}

/// Makes the stored register equal to `persons`: inserts new persons, updates changed ones
/// (their `imported_at` becomes `now`), deletes persons no longer in the extract, and replaces
/// each person's parents where they changed. Run it in one transaction ([`crate::Db::transaction`])
/// so that readers see the old register or the new one, never a mix.
pub fn import(
    conn: &mut AnyConnection,
    persons: &[ValidPerson],
    now: DateTime<Utc>,
) -> Result<ImportReport, StoreError> {
    let now = to_db(now);
    let stored: HashMap<String, PersonRow> = register_persons::table
        .select(PersonRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|r| (r.national_id.clone(), r))
        .collect();
    let mut stored_parents: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (child, parent) in register_parents::table
        .select((register_parents::child_id, register_parents::parent_id))
        .load::<(String, String)>(conn)?
    {
        stored_parents.entry(child).or_default().insert(parent);
    }

    let mut report = ImportReport::default();
    let mut in_extract: HashSet<&str> = HashSet::with_capacity(persons.len());
    for p in persons {
        let key = p.id.expose();
        if !in_extract.insert(key) {
            return Err(StoreError::Corrupt(
                "the extract lists one number twice".into(),
            ));
        }
        let row = PersonRow::new(p, now);
        let parents: BTreeSet<String> = p.parents.iter().map(|q| q.expose().to_owned()).collect();
        let old_parents = stored_parents.get(key);
        match stored.get(key) {
            None => {
                diesel::insert_into(register_persons::table)
                    .values(&row)
                    .execute(conn)?;
                if old_parents.is_some() {
                    delete_parents(conn, key)?;
                }
                insert_parents(conn, key, &parents)?;
                report.added += 1;
            }
            Some(old) => {
                let same_parents = old_parents.map_or(parents.is_empty(), |o| *o == parents);
                if old.same_data(&row) && same_parents {
                    report.unchanged += 1;
                    continue;
                }
                diesel::update(register_persons::table.find(key))
                    .set((
                        register_persons::given_name.eq(&row.given_name),
                        register_persons::family_name.eq(&row.family_name),
                        register_persons::birth_date.eq(row.birth_date),
                        register_persons::address_id.eq(&row.address_id),
                        register_persons::protection.eq(&row.protection),
                        register_persons::deceased_on.eq(row.deceased_on),
                        register_persons::imported_at.eq(row.imported_at),
                    ))
                    .execute(conn)?;
                if !same_parents {
                    delete_parents(conn, key)?;
                    insert_parents(conn, key, &parents)?;
                }
                report.changed += 1;
            }
        }
    }

    for key in stored.keys() {
        if !in_extract.contains(key.as_str()) {
            diesel::delete(register_persons::table.find(key)).execute(conn)?;
            delete_parents(conn, key)?;
            report.removed += 1;
        }
    }
    // Relations of children that are neither stored nor in the extract (left by hand, say).
    for child in stored_parents.keys() {
        if !in_extract.contains(child.as_str()) && !stored.contains_key(child) {
            delete_parents(conn, child)?;
        }
    }
    if report.added + report.changed + report.removed > 0 {
        // Tells every server's decision cache (`crate::watermark`) that the register changed.
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        diesel::insert_into(register_imports::table)
            .values((
                register_imports::imported_at.eq(now),
                register_imports::added.eq(count(report.added)),
                register_imports::changed.eq(count(report.changed)),
                register_imports::removed.eq(count(report.removed)),
            ))
            .execute(conn)?;
    }
    Ok(report)
}

/// The person with this number as the register has them now (read on every call).
pub fn person(
    conn: &mut AnyConnection,
    id: &NationalId,
) -> Result<Option<RegisteredPerson>, StoreError> {
    register_persons::table
        .find(id.expose())
        .select(PersonRow::as_select())
        .get_result(conn)
        .optional()?
        .map(PersonRow::into_person)
        .transpose()
}

/// The numbers of the persons with parental responsibility for `child`, in ascending order.
pub fn parents_of(conn: &mut AnyConnection, child: &NationalId) -> Result<Vec<String>, StoreError> {
    Ok(register_parents::table
        .filter(register_parents::child_id.eq(child.expose()))
        .select(register_parents::parent_id)
        .order(register_parents::parent_id)
        .load(conn)?)
}

/// The numbers of the children `parent` has parental responsibility for, in ascending order.
pub fn children_of(
    conn: &mut AnyConnection,
    parent: &NationalId,
) -> Result<Vec<String>, StoreError> {
    Ok(register_parents::table
        .filter(register_parents::parent_id.eq(parent.expose()))
        .select(register_parents::child_id)
        .order(register_parents::child_id)
        .load(conn)?)
}

/// The stored register behind the domain's port. Every lookup reads the database: no cache.
pub struct DbRegister<'a>(pub &'a mut AnyConnection);

impl PopulationRegister for DbRegister<'_> {
    type Error = StoreError;

    fn person(&mut self, id: &NationalId) -> Result<Option<RegisteredPerson>, StoreError> {
        person(self.0, id)
    }

    fn parents_of(&mut self, child: &NationalId) -> Result<Vec<String>, StoreError> {
        parents_of(self.0, child)
    }

    fn children_of(&mut self, parent: &NationalId) -> Result<Vec<String>, StoreError> {
        children_of(self.0, parent)
    }
}

#[cfg(test)]
mod tests {
    //! On both backends like `crate::tests`: SQLite always, PostgreSQL when `TEST_DATABASE_URL`
    //! is set (CI=true requires it).

    use super::*;
    use crate::db::Db;
    use chrono::TimeZone;
    use diesel::RunQueryDsl;
    use diesel_migrations::MigrationHarness;
    use serde_json::{json, Value};

    use crate::scratch::both;

    const SYNTH: IdPolicy = IdPolicy {
        allow_synthetic: true,
    };

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, 0, 0).unwrap()
    }

    fn id(pid: &str) -> NationalId {
        NationalId::parse(pid, SYNTH).unwrap()
    }

    fn dev_extract() -> Value {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../dev/idp/persons.json"
        ))
        .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn parse(v: &Value) -> Result<Vec<ValidPerson>, ExtractError> {
        parse_extract(&serde_json::to_vec(v).unwrap(), SYNTH)
    }

    fn import_value(db: &Db, v: &Value, h: u32) -> ImportReport {
        let persons = parse(v).unwrap();
        db.transaction(|c| import(c, &persons, at(h))).unwrap()
    }

    fn persons_mut(v: &mut Value) -> &mut Vec<Value> {
        v["persons"].as_array_mut().unwrap()
    }

    fn index_of(v: &Value, pid: &str) -> usize {
        v["persons"]
            .as_array()
            .unwrap()
            .iter()
            .position(|p| p["pid"] == pid)
            .unwrap()
    }

    /// True when `s` holds a run of 11 or more digits.
    fn has_long_digit_run(s: &str) -> bool {
        s.split(|c: char| !c.is_ascii_digit())
            .any(|run| run.len() >= 11)
    }

    /// The error for `v` names `persons[index].field` and holds no identity number.
    fn assert_refused(v: &Value, index: usize, field: &str) -> ExtractError {
        let err = parse(v).expect_err("the extract is refused");
        let text = err.to_string();
        let debug = format!("{err:?}");
        let wanted = if field.is_empty() {
            format!("persons[{index}]:")
        } else {
            format!("persons[{index}].{field}:")
        };
        assert!(text.contains(&wanted), "{text:?} should name {wanted}");
        assert!(!has_long_digit_run(&text), "{text:?}");
        assert!(!has_long_digit_run(&debug), "{debug:?}");
        err
    }

    // A valid person not in the dev extract.
    const NEW_PID: &str = "24888810281";
    const HANNE: &str = "26868138636";
    const EMMA: &str = "08830970208";
    const ASTRID: &str = "10829241876";
    const BJORN: &str = "02867933185";
    const KARI: &str = "21878226426";
    const OLA: &str = "30818049397";
    const NORA: &str = "09842162022";

    fn new_person() -> Value {
        json!({
            "pid": NEW_PID,
            "given_name": "Tone",
            "family_name": "Vik",
            "birth_date": "1988-08-24",
            "address_id": "adr-100",
            "confidential_address": null,
            "deceased": null,
            "parents": []
        })
    }

    #[test]
    fn the_new_test_number_is_valid() {
        assert!(NationalId::parse(NEW_PID, SYNTH).is_ok());
    }

    #[test]
    fn the_dev_extract_is_valid() {
        let v = dev_extract();
        let persons = parse(&v).unwrap();
        assert_eq!(persons.len(), v["persons"].as_array().unwrap().len());
        let emma = persons.iter().find(|p| p.id == id(EMMA)).unwrap();
        assert_eq!(emma.parents, vec![id(HANNE)]);
        let erik = persons.iter().find(|p| p.id == id("05908845767")).unwrap();
        assert_eq!(
            erik.person.protection,
            Some(AddressProtection::StrictlyConfidential)
        );
        let arne = persons.iter().find(|p| p.id == id("02824109128")).unwrap();
        assert_eq!(
            arne.person.deceased_on,
            NaiveDate::from_ymd_opt(2025, 6, 17)
        );
        // Its numbers are synthetic: a production deployment refuses them, naming the field.
        let err = parse_extract(&serde_json::to_vec(&v).unwrap(), IdPolicy::default())
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "register extract: persons[0].pid: synthetic test numbers are not accepted by this deployment"
        );
    }

    #[test]
    fn bad_entries_are_named_by_index_and_field_without_the_number() {
        let base = dev_extract();
        let with = |i: usize, field: &str, value: Value| {
            let mut v = base.clone();
            persons_mut(&mut v)[i][field] = value;
            v
        };
        // Bad check digits, letters, the wrong length, the wrong JSON type.
        assert_refused(&with(2, "pid", json!("10829241877")), 2, "pid");
        assert_refused(&with(2, "pid", json!("1082924187x")), 2, "pid");
        assert_refused(&with(2, "pid", json!("108292418761")), 2, "pid");
        assert_refused(&with(2, "pid", json!(10829241876_u64)), 2, "pid");
        // Dates.
        assert_refused(&with(3, "birth_date", json!("1992-02-30")), 3, "birth_date");
        assert_refused(&with(3, "birth_date", json!("10.02.1992")), 3, "birth_date");
        assert_refused(&with(3, "birth_date", json!("1992-2-10")), 3, "birth_date");
        assert_refused(&with(3, "birth_date", json!(null)), 3, "birth_date");
        assert_refused(&with(3, "deceased", json!("yesterday")), 3, "deceased");
        assert_refused(&with(3, "deceased", json!("1900-01-01")), 3, "deceased");
        // Protection codes.
        assert_refused(
            &with(4, "confidential_address", json!("19")),
            4,
            "confidential_address",
        );
        assert_refused(
            &with(4, "confidential_address", json!(7)),
            4,
            "confidential_address",
        );
        assert_refused(
            &with(4, "confidential_address", json!("")),
            4,
            "confidential_address",
        );
        // Names and addresses.
        assert_refused(&with(5, "given_name", json!(" ")), 5, "given_name");
        assert_refused(&with(5, "address_id", json!("")), 5, "address_id");
        // Parents: valid numbers, not oneself, not twice.
        let emma = index_of(&base, EMMA);
        assert_refused(
            &with(emma, "parents", json!([HANNE, "26868138637"])),
            emma,
            "parents[1]",
        );
        assert_refused(&with(emma, "parents", json!([EMMA])), emma, "parents[0]");
        assert_refused(
            &with(emma, "parents", json!([HANNE, HANNE])),
            emma,
            "parents[1]",
        );
        assert_refused(&with(emma, "parents", json!(HANNE)), emma, "parents");
        // A parent outside the file is fine if the number is valid.
        assert!(parse(&with(emma, "parents", json!([NEW_PID]))).is_ok());
        // A number twice.
        let mut dup = base.clone();
        let copy = dup["persons"][1].clone();
        persons_mut(&mut dup).push(copy);
        let last = dup["persons"].as_array().unwrap().len() - 1;
        let err = assert_refused(&dup, last, "pid");
        assert!(err.to_string().contains("persons[1].pid"), "{err}");
        // Missing and unknown fields; an unknown key that is itself a number is not repeated.
        let mut missing = base.clone();
        persons_mut(&mut missing)[6]
            .as_object_mut()
            .unwrap()
            .remove("family_name");
        assert_refused(&missing, 6, "family_name");
        assert_refused(&with(6, "deceased_on", json!("2020-01-01")), 6, "");
        assert_refused(&with(6, ASTRID, json!(ASTRID)), 6, "");
        // An entry that is not an object.
        let mut not_object = base.clone();
        persons_mut(&mut not_object)[7] = json!(ASTRID);
        assert_refused(&not_object, 7, "");
    }

    #[test]
    fn bad_documents_are_refused_without_the_number() {
        let cases: Vec<(&[u8], &str)> = vec![
            (b"{\"version\": 1, \"persons\": [", "not valid JSON"),
            (
                b"{\"version\": 1, \"persons\": []} 10829241876",
                "not valid JSON",
            ),
            (b"[\"10829241876\"]", "wrong JSON type (expected an object)"),
            (b"", "not valid JSON"),
            (
                b"{\"version\": 2, \"persons\": []}",
                "version: only version 1",
            ),
            (
                b"{\"version\": \"10829241876\", \"persons\": []}",
                "version: has the wrong JSON type",
            ),
            (b"{\"version\": 1}", "persons: is missing"),
            (
                b"{\"version\": 1, \"persons\": [], \"10829241876\": 1}",
                "a field the format does not have",
            ),
        ];
        for (input, wanted) in cases {
            let err = parse_extract(input, SYNTH).err().unwrap().to_string();
            assert!(err.contains(wanted), "{err:?} should contain {wanted:?}");
            assert!(!has_long_digit_run(&err), "{err:?}");
        }
        assert_eq!(
            parse_extract(b"{\"version\": 1, \"persons\": []}", SYNTH).unwrap(),
            vec![]
        );
    }

    #[test]
    fn importing_the_dev_extract_then_again_then_a_changed_one() {
        both(|db| {
            let v = dev_extract();
            let n = v["persons"].as_array().unwrap().len();
            assert_eq!(
                import_value(db, &v, 10),
                ImportReport {
                    added: n,
                    ..Default::default()
                }
            );
            let mut conn = db.conn().unwrap();
            let astrid = person(&mut conn, &id(ASTRID)).unwrap().unwrap();
            assert_eq!(astrid.given_name, "Astrid");
            assert_eq!(astrid.address_id.as_deref(), Some("adr-001"));
            let marit = person(&mut conn, &id("11887517462")).unwrap().unwrap();
            assert_eq!(marit.protection, Some(AddressProtection::Confidential));
            drop(conn);

            // The same file again changes nothing, not even the import time.
            assert_eq!(
                import_value(db, &v, 11),
                ImportReport {
                    unchanged: n,
                    ..Default::default()
                }
            );
            let mut conn = db.conn().unwrap();
            let imported: NaiveDateTime = register_persons::table
                .find(ASTRID)
                .select(register_persons::imported_at)
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(imported, to_db(at(10)));
            drop(conn);

            // Astrid moves, Bjørn leaves the register, Tone arrives.
            let mut changed = v.clone();
            let a = index_of(&changed, ASTRID);
            changed["persons"][a]["address_id"] = json!("adr-099");
            let b = index_of(&changed, BJORN);
            persons_mut(&mut changed).remove(b);
            persons_mut(&mut changed).push(new_person());
            assert_eq!(
                import_value(db, &changed, 12),
                ImportReport {
                    added: 1,
                    changed: 1,
                    removed: 1,
                    unchanged: n - 2,
                }
            );
            let mut conn = db.conn().unwrap();
            let astrid = person(&mut conn, &id(ASTRID)).unwrap().unwrap();
            assert_eq!(astrid.address_id.as_deref(), Some("adr-099"));
            let imported: NaiveDateTime = register_persons::table
                .find(ASTRID)
                .select(register_persons::imported_at)
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(imported, to_db(at(12)));
            assert_eq!(person(&mut conn, &id(BJORN)).unwrap(), None);
            let tone = person(&mut conn, &id(NEW_PID)).unwrap().unwrap();
            assert_eq!(tone.family_name, "Vik");
            assert_eq!(
                tone.birth_date,
                NaiveDate::from_ymd_opt(1988, 8, 24).unwrap()
            );
            let count: i64 = register_persons::table
                .count()
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(usize::try_from(count).unwrap(), n);

            // An empty extract empties the register.
            drop(conn);
            assert_eq!(
                import_value(db, &json!({"version": 1, "persons": []}), 13),
                ImportReport {
                    removed: n,
                    ..Default::default()
                }
            );
            let mut conn = db.conn().unwrap();
            let rows: i64 = register_parents::table
                .count()
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(rows, 0);
        });
    }

    #[test]
    fn parent_relations_are_replaced() {
        both(|db| {
            let v = dev_extract();
            import_value(db, &v, 10);
            let mut conn = db.conn().unwrap();
            assert_eq!(parents_of(&mut conn, &id(EMMA)).unwrap(), vec![HANNE]);
            assert_eq!(parents_of(&mut conn, &id(NORA)).unwrap(), vec![KARI, OLA]);
            assert_eq!(children_of(&mut conn, &id(KARI)).unwrap().len(), 6);
            assert_eq!(children_of(&mut conn, &id(HANNE)).unwrap(), vec![EMMA]);
            assert!(parents_of(&mut conn, &id(ASTRID)).unwrap().is_empty());
            assert!(children_of(&mut conn, &id(ASTRID)).unwrap().is_empty());
            drop(conn);

            // Emma gets Astrid as a second parent; Nora keeps only Kari; the other Nordmann
            // children are removed from the register, and their relations with them.
            let mut changed = v.clone();
            let e = index_of(&changed, EMMA);
            changed["persons"][e]["parents"] = json!([ASTRID, HANNE]);
            let nora = index_of(&changed, NORA);
            changed["persons"][nora]["parents"] = json!([KARI]);
            let others = [
                "16921485151",
                "20811453413",
                "03861277959",
                "09921091831",
                "12811064708",
            ];
            persons_mut(&mut changed).retain(|p| !others.iter().any(|o| p["pid"] == *o));
            let n = changed["persons"].as_array().unwrap().len();
            assert_eq!(
                import_value(db, &changed, 11),
                ImportReport {
                    added: 0,
                    changed: 2,
                    removed: 5,
                    unchanged: n - 2,
                }
            );
            let mut conn = db.conn().unwrap();
            assert_eq!(
                parents_of(&mut conn, &id(EMMA)).unwrap(),
                vec![ASTRID, HANNE]
            );
            assert_eq!(children_of(&mut conn, &id(ASTRID)).unwrap(), vec![EMMA]);
            assert_eq!(parents_of(&mut conn, &id(NORA)).unwrap(), vec![KARI]);
            assert_eq!(children_of(&mut conn, &id(KARI)).unwrap(), vec![NORA]);
            assert!(children_of(&mut conn, &id(OLA)).unwrap().is_empty());
            for o in others {
                assert!(parents_of(&mut conn, &id(o)).unwrap().is_empty());
            }
            let rows: i64 = register_parents::table
                .count()
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(rows, 3);
        });
    }

    #[test]
    fn the_port_reads_the_register_on_every_call() {
        both(|db| {
            let v = dev_extract();
            import_value(db, &v, 10);
            // The port holds one connection; the import runs on another.
            let mut conn = db.conn().unwrap();
            let mut register = DbRegister(&mut conn);
            assert_eq!(register.person(&id(NEW_PID)).unwrap(), None);
            let arne = register.person(&id("02824109128")).unwrap().unwrap();
            assert!(!arne.is_alive_at(at(10)));
            let astrid = register.person(&id(ASTRID)).unwrap().unwrap();
            assert!(astrid.deceased_on.is_none());

            let mut changed = v.clone();
            let a = index_of(&changed, ASTRID);
            changed["persons"][a]["deceased"] = json!("2026-11-01");
            changed["persons"][a]["confidential_address"] = json!("6");
            persons_mut(&mut changed).push(new_person());
            import_value(db, &changed, 11);

            let astrid = register.person(&id(ASTRID)).unwrap().unwrap();
            assert!(!astrid.is_alive_at(at(11)));
            assert_eq!(
                astrid.protection,
                Some(AddressProtection::StrictlyConfidential)
            );
            assert!(register.person(&id(NEW_PID)).unwrap().is_some());
        });
    }

    #[test]
    fn the_register_migration_undoes_and_redoes_cleanly() {
        both(|db| {
            import_value(db, &dev_extract(), 10);
            let mut conn = db.conn().unwrap();
            // Revert down to and including this migration (later ones first).
            let mut reverted = 0;
            loop {
                let version = match &mut *conn {
                    AnyConnection::Sqlite(c) => c
                        .revert_last_migration(crate::db::SQLITE_MIGRATIONS)
                        .unwrap()
                        .to_string(),
                    AnyConnection::Postgresql(c) => c
                        .revert_last_migration(crate::db::POSTGRES_MIGRATIONS)
                        .unwrap()
                        .to_string(),
                };
                reverted += 1;
                if version.replace('-', "").starts_with("20261123000002") {
                    break;
                }
                assert!(reverted < 50, "the register migration was never reverted");
            }
            assert!(register_persons::table
                .count()
                .get_result::<i64>(&mut *conn)
                .is_err());
            assert!(register_parents::table
                .count()
                .get_result::<i64>(&mut *conn)
                .is_err());
            drop(conn);
            assert!(!db.is_ready());
            assert_eq!(db.migrate().unwrap(), reverted);
            assert!(db.is_ready());
            let mut conn = db.conn().unwrap();
            assert_eq!(person(&mut conn, &id(ASTRID)).unwrap(), None);
            assert_eq!(import_value(db, &dev_extract(), 11).unchanged, 0);
        });
    }
}
