//! The usage log ("Logg over bruk"), DESIGN §2.8: append-only and tamper-evident.
//!
//! Each citizen's log is its own hash chain: entry `n` stores the hash of entry `n - 1` and its
//! own hash over a canonical, length-prefixed encoding of every field. Editing, deleting or
//! reordering a stored row breaks the chain at that row, and [`verify_chain`] says where.
//! Times are kept to the whole second, the precision both database backends store exactly.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// The `prev_hash` of a citizen's first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who performed an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// The citizen, for themselves.
    Citizen,
    /// A guardian acting for a child.
    Guardian,
    /// A grantee acting under a power of attorney.
    Grantee,
    /// A downstream health service (reported access or decision).
    Service,
    /// The portal itself (scheduled work such as expiry).
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Citizen => "citizen",
            ActorKind::Guardian => "guardian",
            ActorKind::Grantee => "grantee",
            ActorKind::Service => "service",
            ActorKind::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<ActorKind> {
        [
            ActorKind::Citizen,
            ActorKind::Guardian,
            ActorKind::Grantee,
            ActorKind::Service,
            ActorKind::System,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// An entry as it is about to be appended: everything but its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// The opaque id of the citizen whose log this is.
    pub subject_id: String,
    pub at: DateTime<Utc>,
    pub actor_kind: ActorKind,
    /// The opaque id of the acting citizen, or the client id of a service. Never an identity number.
    pub actor_id: String,
    /// A stable action name, e.g. `login`, `terms.accepted`.
    pub action: String,
    /// Details as a JSON object; never identity numbers or health data beyond what the entry is about.
    pub details: serde_json::Value,
}

/// An entry with its place in the chain, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedEntry {
    pub seq: i64,
    pub subject_id: String,
    pub at: DateTime<Utc>,
    pub actor_kind: ActorKind,
    pub actor_id: String,
    pub action: String,
    /// The details exactly as stored (canonical JSON text); the hash covers this text.
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Places `entry` after `previous` (or first, when `previous` is `None`) and computes its hash.
pub fn chain(entry: NewEntry, previous: Option<(i64, &str)>) -> ChainedEntry {
    let (seq, prev_hash) = match previous {
        Some((seq, hash)) => (seq + 1, hash.to_owned()),
        None => (1, GENESIS_HASH.to_owned()),
    };
    let mut chained = ChainedEntry {
        seq,
        subject_id: entry.subject_id,
        at: entry.at.trunc_subsecs(0),
        actor_kind: entry.actor_kind,
        actor_id: entry.actor_id,
        action: entry.action,
        // serde_json's object map is ordered by key, so this text is canonical.
        details: entry.details.to_string(),
        prev_hash,
        hash: String::new(),
    };
    chained.hash = entry_hash(&chained);
    chained
}

/// The hash of an entry over every field but `hash` itself.
pub fn entry_hash(e: &ChainedEntry) -> String {
    let mut h = Sha256::new();
    let seq = e.seq.to_string();
    let at = e.at.timestamp().to_string();
    let fields: [&str; 8] = [
        &seq,
        &e.subject_id,
        &at,
        e.actor_kind.as_str(),
        &e.actor_id,
        &e.action,
        &e.details,
        &e.prev_hash,
    ];
    for field in fields {
        // Length-prefixed so that no two field lists encode the same bytes.
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainError {
    #[error("entry {seq} does not follow entry {expected_prev_seq}")]
    Gap { seq: i64, expected_prev_seq: i64 },
    #[error("entry {seq} does not link to the hash of the entry before it")]
    BrokenLink { seq: i64 },
    #[error("entry {seq} has been altered: its hash does not match its content")]
    Altered { seq: i64 },
    #[error("entry {seq} belongs to another log")]
    ForeignEntry { seq: i64 },
}

/// Checks one citizen's log entry by entry, in ascending `seq` order from the first entry, so a
/// long log can be verified in batches without holding it in memory.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    subject_id: String,
    prev_seq: i64,
    prev_hash: String,
    verified: u64,
}

impl ChainVerifier {
    pub fn new(subject_id: &str) -> ChainVerifier {
        ChainVerifier {
            subject_id: subject_id.to_owned(),
            prev_seq: 0,
            prev_hash: GENESIS_HASH.to_owned(),
            verified: 0,
        }
    }

    /// A verifier for a log whose entries up to `seq` were deleted under the retention rule:
    /// the first remaining entry must follow `seq` and link to `hash`, the deleted entry's hash
    /// kept as the anchor. So a cut log still proves nothing after the cut was changed.
    pub fn after_anchor(subject_id: &str, seq: i64, hash: &str) -> ChainVerifier {
        ChainVerifier {
            subject_id: subject_id.to_owned(),
            prev_seq: seq,
            prev_hash: hash.to_owned(),
            verified: 0,
        }
    }

    /// Checks that `e` belongs to this log, follows the previous entry and is unaltered.
    pub fn push(&mut self, e: &ChainedEntry) -> Result<(), ChainError> {
        if e.subject_id != self.subject_id {
            return Err(ChainError::ForeignEntry { seq: e.seq });
        }
        if e.seq != self.prev_seq + 1 {
            return Err(ChainError::Gap {
                seq: e.seq,
                expected_prev_seq: self.prev_seq,
            });
        }
        if e.prev_hash != self.prev_hash {
            return Err(ChainError::BrokenLink { seq: e.seq });
        }
        if entry_hash(e) != e.hash {
            return Err(ChainError::Altered { seq: e.seq });
        }
        self.prev_seq = e.seq;
        self.prev_hash.clone_from(&e.hash);
        self.verified += 1;
        Ok(())
    }

    /// How many entries have been verified.
    pub fn verified(&self) -> u64 {
        self.verified
    }
}

/// The retention rule: entries older than this (strictly) may be deleted at `now` when the
/// deployment keeps the usage log `retention_days` (DESIGN §2.2, issue 8: the log is kept per
/// the retention the deployment configures).
pub fn retention_cutoff(now: DateTime<Utc>, retention_days: i64) -> DateTime<Utc> {
    now - chrono::Duration::days(retention_days.max(0))
}

/// Checks a whole log at once; returns the number of entries verified.
pub fn verify_chain<I>(subject_id: &str, entries: I) -> Result<u64, ChainError>
where
    I: IntoIterator<Item = ChainedEntry>,
{
    let mut v = ChainVerifier::new(subject_id);
    for e in entries {
        v.push(&e)?;
    }
    Ok(v.verified())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn entry(action: &str, second: u32) -> NewEntry {
        NewEntry {
            subject_id: "c-1".into(),
            at: Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, second).unwrap(),
            actor_kind: ActorKind::Citizen,
            actor_id: "c-1".into(),
            action: action.into(),
            details: json!({"level": "full", "a": 1}),
        }
    }

    #[test]
    fn a_log_cut_under_retention_verifies_from_its_anchor() {
        let log = log_of(5);
        let anchor = &log[1];
        let mut v = ChainVerifier::after_anchor("c-1", anchor.seq, &anchor.hash);
        for e in &log[2..] {
            v.push(e).unwrap();
        }
        assert_eq!(v.verified(), 3);
        // A wrong anchor, or a cut that took one entry more, is found.
        let mut wrong = ChainVerifier::after_anchor("c-1", anchor.seq, "not-the-hash");
        assert_eq!(wrong.push(&log[2]), Err(ChainError::BrokenLink { seq: 3 }));
        let mut gap = ChainVerifier::after_anchor("c-1", anchor.seq, &anchor.hash);
        assert!(matches!(gap.push(&log[3]), Err(ChainError::Gap { .. })));
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        assert_eq!(retention_cutoff(now, 1), now - chrono::Duration::days(1));
        assert_eq!(retention_cutoff(now, -3), now);
    }

    fn log_of(n: u32) -> Vec<ChainedEntry> {
        let mut out: Vec<ChainedEntry> = Vec::new();
        for i in 0..n {
            let prev = out.last().map(|e| (e.seq, e.hash.clone()));
            let next = chain(
                entry("login", i),
                prev.as_ref().map(|(s, h)| (*s, h.as_str())),
            );
            out.push(next);
        }
        out
    }

    #[test]
    fn a_fresh_chain_verifies() {
        let log = log_of(5);
        assert_eq!(log[0].prev_hash, GENESIS_HASH);
        assert_eq!(log[4].seq, 5);
        assert_eq!(verify_chain("c-1", log), Ok(5));
        assert_eq!(verify_chain("c-1", Vec::new()), Ok(0));
    }

    #[test]
    fn an_edited_field_is_detected_at_its_row() {
        let mut log = log_of(4);
        log[2].action = "terms.withdrawn".into();
        assert_eq!(
            verify_chain("c-1", log),
            Err(ChainError::Altered { seq: 3 })
        );
        let mut log = log_of(4);
        log[1].details = r#"{"a":2,"level":"full"}"#.into();
        assert_eq!(
            verify_chain("c-1", log),
            Err(ChainError::Altered { seq: 2 })
        );
    }

    #[test]
    fn a_recomputed_hash_still_breaks_the_next_link() {
        let mut log = log_of(4);
        log[1].actor_id = "someone-else".into();
        log[1].hash = entry_hash(&log[1]);
        assert_eq!(
            verify_chain("c-1", log),
            Err(ChainError::BrokenLink { seq: 3 })
        );
    }

    #[test]
    fn a_deleted_row_is_a_gap() {
        let mut log = log_of(4);
        log.remove(1);
        assert_eq!(
            verify_chain("c-1", log),
            Err(ChainError::Gap {
                seq: 3,
                expected_prev_seq: 1
            })
        );
    }

    #[test]
    fn details_are_canonical_and_times_whole_seconds() {
        let mut e = entry("login", 1);
        e.at += chrono::Duration::milliseconds(750);
        let c = chain(e, None);
        assert_eq!(c.details, r#"{"a":1,"level":"full"}"#);
        assert_eq!(c.at.timestamp_subsec_nanos(), 0);
    }

    #[test]
    fn actor_kinds_round_trip() {
        for k in ["citizen", "guardian", "grantee", "service", "system"] {
            assert_eq!(ActorKind::parse(k).map(ActorKind::as_str), Some(k));
        }
        assert_eq!(ActorKind::parse("admin"), None);
    }
}
