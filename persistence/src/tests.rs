//! Storage tests on both backends: SQLite always, PostgreSQL when `TEST_DATABASE_URL` names a
//! server where a scratch database can be created (scripts/test sets it; CI requires it).

use crate::db::AnyConnection;
use crate::scratch::both;
use crate::{citizens, login_requests, outbox, register, sessions, terms, usage_log, watermark};
use chrono::{DateTime, TimeZone, Utc};
use diesel::RunQueryDsl;
use diesel_migrations::MigrationHarness;
use domain::consent::{ConsentLevel, TermsChange};
use domain::identity::{IdPolicy, NationalId};
use domain::usage_log::{ActorKind, ChainError, NewEntry};

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, h, m, s).unwrap()
}

/// A synthetic number (month + 80) with valid check digits.
fn pid() -> NationalId {
    NationalId::parse(
        "10829241876",
        IdPolicy {
            allow_synthetic: true,
        },
    )
    .unwrap()
}

fn citizen(conn: &mut AnyConnection) -> citizens::Citizen {
    citizens::find_or_create(conn, &pid(), || "c-1".to_owned(), at(10, 0, 0)).unwrap()
}

fn entry(subject: &str, action: &str, t: DateTime<Utc>) -> NewEntry {
    NewEntry {
        subject_id: subject.to_owned(),
        at: t,
        actor_kind: ActorKind::Citizen,
        actor_id: subject.to_owned(),
        action: action.to_owned(),
        details: serde_json::json!({}),
    }
}

#[test]
fn every_repository_round_trips_on_both_backends() {
    both(|db| {
        let mut conn = db.conn().unwrap();
        let c = citizen(&mut conn);
        // Found again by number, same opaque id; created once.
        assert_eq!(citizen(&mut conn).id, c.id);
        assert_eq!(
            citizens::find_by_national_id(&mut conn, &pid())
                .unwrap()
                .map(|x| x.id),
            Some(c.id.clone())
        );

        let change = TermsChange::Accepted {
            terms_version: "v1".into(),
            level: ConsentLevel::BasisPlus,
            at: at(10, 1, 0),
        };
        terms::apply(&mut conn, &c.id, &change).unwrap();
        let stored = citizens::find(&mut conn, &c.id).unwrap().unwrap();
        assert_eq!(stored.consent, change.resulting_consent());
        let history = terms::history(&mut conn, &c.id).unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].level, Some(ConsentLevel::BasisPlus));
        assert_eq!(history[0].at, at(10, 1, 0));

        let s = sessions::Session {
            id_hash: "h".into(),
            citizen_id: c.id.clone(),
            csrf_token: "t".into(),
            acr: Some("idporten-loa-high".into()),
            created_at: at(10, 0, 0),
            last_seen_at: at(10, 0, 0),
        };
        sessions::insert(&mut conn, &s).unwrap();
        sessions::touch(&mut conn, "h", at(10, 5, 0)).unwrap();
        assert_eq!(
            sessions::find_live(&mut conn, "h")
                .unwrap()
                .unwrap()
                .last_seen_at,
            at(10, 5, 0)
        );
        assert!(sessions::end(&mut conn, "h", at(10, 6, 0)).unwrap());
        assert!(!sessions::end(&mut conn, "h", at(10, 7, 0)).unwrap());
        assert!(sessions::find_live(&mut conn, "h").unwrap().is_none());

        let req = login_requests::LoginRequest {
            state_hash: "sh".into(),
            browser_hash: "bh".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            acr_values: "idporten-loa-high".into(),
            created_at: at(10, 0, 0),
        };
        login_requests::insert(&mut conn, &req).unwrap();
        assert_eq!(
            login_requests::take(&mut conn, "sh")
                .unwrap()
                .unwrap()
                .nonce,
            "n"
        );
        assert!(
            login_requests::take(&mut conn, "sh").unwrap().is_none(),
            "a state works once"
        );

        outbox::append(
            &mut conn,
            &outbox::NewEvent {
                event_id: "e-1".into(),
                event_type: "terms.accepted".into(),
                subject_id: c.id.clone(),
                occurred_at: at(10, 1, 0),
                payload: serde_json::json!({"log_seq": 1}),
            },
        )
        .unwrap();
        let events = outbox::after(&mut conn, 0, 10).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, "terms.accepted");
    });
}

#[test]
fn the_usage_log_chain_verifies_and_a_hand_edited_row_is_detected() {
    both(|db| {
        let mut conn = db.conn().unwrap();
        let c = citizen(&mut conn);
        for i in 0..5 {
            usage_log::append(&mut conn, entry(&c.id, "login", at(11, 0, i))).unwrap();
        }
        assert_eq!(usage_log::verify(&mut conn, &c.id).unwrap(), Ok(5));
        let page = usage_log::page(&mut conn, &c.id, None, 2).unwrap();
        assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 4]);
        let page = usage_log::page(&mut conn, &c.id, Some(4), 10).unwrap();
        assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 2, 1]);

        // The attacker edits a stored row by hand.
        diesel::sql_query("UPDATE usage_log SET action = 'terms.withdrawn' WHERE seq = 3")
            .execute(&mut *conn)
            .unwrap();
        assert_eq!(
            usage_log::verify(&mut conn, &c.id).unwrap(),
            Err(ChainError::Altered { seq: 3 })
        );
        let report = usage_log::verify_all(&mut conn).unwrap();
        assert_eq!(
            report,
            vec![(c.id.clone(), Err(ChainError::Altered { seq: 3 }))]
        );
    });
}

#[test]
fn concurrent_appends_to_one_log_never_fork_the_chain() {
    both(|db| {
        let c = citizen(&mut db.conn().unwrap());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let db = db.clone();
                let id = c.id.clone();
                std::thread::spawn(move || {
                    for i in 0..10 {
                        db.transaction(|conn| {
                            usage_log::append(conn, entry(&id, &format!("t{t}.{i}"), at(12, t, i)))
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut conn = db.conn().unwrap();
        assert_eq!(usage_log::verify(&mut conn, &c.id).unwrap(), Ok(40));
    });
}

#[test]
fn migrations_undo_and_redo_cleanly() {
    both(|db| {
        let mut conn = db.conn().unwrap();
        let reverted = match &mut *conn {
            AnyConnection::Sqlite(c) => c
                .revert_all_migrations(crate::db::SQLITE_MIGRATIONS)
                .unwrap()
                .len(),
            AnyConnection::Postgresql(c) => c
                .revert_all_migrations(crate::db::POSTGRES_MIGRATIONS)
                .unwrap()
                .len(),
        };
        drop(conn);
        assert!(reverted >= 1);
        assert!(
            !db.is_ready(),
            "pending migrations make the database not ready"
        );
        assert_eq!(
            db.migrate().unwrap(),
            reverted,
            "every down.sql undid its up.sql"
        );
        assert!(db.is_ready());
    });
}

#[test]
fn the_decision_mark_moves_with_each_event_and_each_import_that_changed_something() {
    both(|db| {
        let mut conn = db.conn().unwrap();
        let start = watermark::read(&mut conn).unwrap();
        assert_eq!(start, watermark::Watermark::default());
        for n in 1..=3 {
            db.transaction(|conn| {
                outbox::append(
                    conn,
                    &outbox::NewEvent {
                        event_id: format!("e-{n}"),
                        event_type: "terms.accepted".into(),
                        subject_id: "c-1".into(),
                        occurred_at: at(13, 0, n),
                        payload: serde_json::json!({}),
                    },
                )
            })
            .unwrap();
            let mark = watermark::read(&mut conn).unwrap();
            assert_eq!(mark.outbox, outbox::head(&mut conn).unwrap());
            assert_eq!(mark.register, 0);
        }
        let after_events = watermark::read(&mut conn).unwrap();

        let extract = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../dev/idp/persons.json"
        ))
        .unwrap();
        let persons = register::parse_extract(
            &extract,
            IdPolicy {
                allow_synthetic: true,
            },
        )
        .unwrap();
        register::import(&mut conn, &persons, at(14, 0, 0)).unwrap();
        let imported = watermark::read(&mut conn).unwrap();
        assert_eq!(imported.outbox, after_events.outbox);
        assert!(
            imported.register > 0,
            "an import that changed the register moves its mark"
        );
        // The same extract again changes nothing and leaves no mark.
        register::import(&mut conn, &persons, at(15, 0, 0)).unwrap();
        assert_eq!(watermark::read(&mut conn).unwrap(), imported);
    });
}

/// The advisory lock that orders outbox writers on PostgreSQL ("outbox" in ASCII), as the
/// migrations' triggers take it.
const OUTBOX_LOCK: &str = "pg_advisory_xact_lock(122550254464888)";

#[test]
fn the_outbox_and_the_register_triggers_take_one_lock() {
    // A key changed on one side only would let an import and an outbox writer take the two
    // locks in opposite orders.
    assert_eq!(0x6f7574626f78_i64, 122550254464888);
    let register =
        include_str!("../../migrations/postgres/2026-12-02-000014_decision_marks/up.sql");
    let outbox =
        include_str!("../../migrations/postgres/2026-12-03-000015_outbox_positions/up.sql");
    assert!(register.contains(OUTBOX_LOCK));
    assert!(outbox.contains(OUTBOX_LOCK));
}

#[test]
fn outbox_positions_are_drawn_only_under_the_writers_lock() {
    // `a_reader_never_skips_an_event_that_commits_late` cannot tell a lost lock (the decision
    // mark's row also makes a second writer wait), so the migrated schema itself is checked: no
    // column default that would draw before the lock, and one BEFORE INSERT trigger per row whose
    // function takes the lock before it draws.
    #[derive(diesel::QueryableByName)]
    struct Schema {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        id_default: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Text)]
        function: String,
    }
    let Some(pg) = crate::scratch::postgres() else {
        return;
    };
    let mut conn = pg.db.conn().unwrap();
    let AnyConnection::Postgresql(c) = &mut *conn else {
        unreachable!("a PostgreSQL scratch database")
    };
    let found: Schema = diesel::sql_query(
        "SELECT pg_get_expr(d.adbin, d.adrelid) AS id_default, pg_get_functiondef(t.tgfoid) AS function \
         FROM pg_trigger t \
         LEFT JOIN pg_attrdef d ON d.adrelid = t.tgrelid \
           AND d.adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = t.tgrelid AND attname = 'id') \
         WHERE t.tgrelid = 'outbox'::regclass AND NOT t.tgisinternal \
           AND t.tgtype & 2 = 2 AND t.tgtype & 1 = 1 AND t.tgtype & 4 = 4 AND t.tgenabled <> 'D'",
    )
    .get_result(c)
    .expect("one enabled BEFORE INSERT row trigger on outbox");
    assert_eq!(
        found.id_default, None,
        "a default would draw before the trigger"
    );
    let lock = found.function.find(OUTBOX_LOCK);
    let draw = found.function.find("nextval('outbox_id_seq'");
    assert!(
        matches!((lock, draw), (Some(l), Some(d)) if l < d),
        "{}",
        found.function
    );
}

#[test]
fn a_postgres_url_never_falls_back_to_a_sqlite_file() {
    use diesel::r2d2::ManageConnection;
    // Nothing listens on port 1: connecting must fail rather than create a file named like the URL.
    let manager = crate::db::Manager::for_url("postgres://postgres@127.0.0.1:1/nothing");
    assert!(manager.connect().is_err());
    assert!(!std::path::Path::new("postgres:").exists());
}

#[test]
fn a_reader_never_skips_an_event_that_commits_late() {
    use std::sync::mpsc;
    both(|db| {
        let event = |id: &str| outbox::NewEvent {
            event_id: id.to_owned(),
            event_type: "terms.accepted".into(),
            subject_id: "c-1".into(),
            occurred_at: at(13, 0, 0),
            payload: serde_json::json!({}),
        };
        let (appended, wait_appended) = mpsc::channel();
        let (release, wait_release) = mpsc::channel::<()>();
        let first = {
            let db = db.clone();
            let e = event("first");
            std::thread::spawn(move || {
                db.transaction(|conn| {
                    outbox::append(conn, &e)?;
                    let _ = appended.send(());
                    // Hold the transaction open: this event commits late.
                    let _ = wait_release.recv();
                    Ok::<_, crate::StoreError>(())
                })
                .unwrap();
            })
        };
        wait_appended.recv().unwrap();
        let second = {
            let db = db.clone();
            let e = event("second");
            std::thread::spawn(move || db.transaction(|conn| outbox::append(conn, &e)).unwrap())
        };
        // Give the second writer time to commit if it could (it must not be able to).
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut conn = db.conn().unwrap();
        assert!(
            outbox::after(&mut conn, 0, 10).unwrap().is_empty(),
            "a reader must not see the second event while the first is uncommitted"
        );
        assert_eq!(
            watermark::read(&mut conn).unwrap().outbox,
            0,
            "the decision mark must not move before the event commits"
        );
        release.send(()).unwrap();
        first.join().unwrap();
        second.join().unwrap();
        let events = outbox::after(&mut conn, 0, 10).unwrap();
        let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, ["first", "second"]);
        assert!(events[0].position < events[1].position);
        assert_eq!(outbox::head(&mut conn).unwrap(), events[1].position);
        assert_eq!(
            watermark::read(&mut conn).unwrap().outbox,
            events[1].position
        );
    });
}

#[test]
fn access_switches_round_trip_on_both_backends() {
    use crate::access_switches;
    use domain::access_switches::Switch;
    both(|db| {
        let mut conn = db.conn().unwrap();
        let c = citizen(&mut conn);
        let never = access_switches::get(&mut conn, &c.id).unwrap();
        assert_eq!(never, access_switches::StoredSwitches::default());
        let s = access_switches::set(&mut conn, &c.id, Switch::PatientRecord, true, at(11, 0, 0))
            .unwrap();
        assert!(s.switches.patient_record_removed);
        assert!(!s.switches.services_removed);
        assert_eq!(s.changed_at(Switch::PatientRecord), Some(at(11, 0, 0)));
        assert_eq!(s.changed_at(Switch::Services), None);
        access_switches::set(&mut conn, &c.id, Switch::Services, true, at(11, 1, 0)).unwrap();
        let s = access_switches::set(&mut conn, &c.id, Switch::PatientRecord, false, at(11, 2, 0))
            .unwrap();
        assert_eq!(access_switches::get(&mut conn, &c.id).unwrap(), s);
        assert!(!s.switches.patient_record_removed);
        assert!(s.switches.services_removed);
        assert_eq!(s.changed_at(Switch::PatientRecord), Some(at(11, 2, 0)));
    });
}

#[test]
fn child_restrictions_round_trip_and_lift_once_on_both_backends() {
    use crate::children::{self, Author, Lifting, StoredRestriction};
    use domain::guardianship::{RefusalScope, Restriction};
    use domain::powers_of_attorney::ServiceArea;
    let author = Author {
        hpr_number: "123456789".into(),
        organisation_number: "974589095".into(),
        organisation_name: "Helsestasjon".into(),
    };
    both(|db| {
        let mut conn = db.conn().unwrap();
        let child = citizen(&mut conn);
        let refusal = StoredRestriction {
            id: "r-1".into(),
            child_id: child.id.clone(),
            restriction: Restriction::Refusal(RefusalScope::Areas(
                [ServiceArea::Vaccinations, ServiceArea::Appointments]
                    .into_iter()
                    .collect(),
            )),
            basis: "the child asked".into(),
            registered_by: author.clone(),
            client_id: "clinic".into(),
            registered_at: at(10, 0, 0),
            lifted: None,
        };
        let whole = StoredRestriction {
            id: "r-2".into(),
            restriction: Restriction::Refusal(RefusalScope::Whole),
            registered_at: at(10, 5, 0),
            ..refusal.clone()
        };
        let denial = StoredRestriction {
            id: "r-3".into(),
            restriction: Restriction::Denial { guardian_id: None },
            registered_at: at(10, 10, 0),
            ..refusal.clone()
        };
        for r in [&refusal, &whole, &denial] {
            children::insert(&mut conn, r).unwrap();
        }
        let listed = children::of_child(&mut conn, &child.id).unwrap();
        assert_eq!(listed, vec![denial.clone(), whole.clone(), refusal.clone()]);
        assert_eq!(children::in_force(&mut conn, &child.id).unwrap().len(), 3);

        let lifting = Lifting {
            at: at(12, 0, 0),
            basis: "no longer needed".into(),
            by: author.clone(),
        };
        assert!(children::lift(&mut conn, "r-2", &lifting).unwrap());
        assert!(
            !children::lift(&mut conn, "r-2", &lifting).unwrap(),
            "lifted once"
        );
        let found = children::find(&mut conn, "r-2").unwrap().unwrap();
        assert_eq!(found.lifted, Some(lifting));
        let in_force = children::in_force(&mut conn, &child.id).unwrap();
        assert!(in_force.contains(&refusal.restriction));
        assert!(in_force.contains(&denial.restriction));
        assert_eq!(in_force.len(), 2);
        assert!(!in_force.contains(&whole.restriction));
        assert_eq!(children::find(&mut conn, "nope").unwrap(), None);
    });
}

#[test]
fn summary_care_record_states_round_trip_and_a_purge_is_recorded_once() {
    use crate::summary_care_records as scr;
    use domain::summary_care_record::RecordState;
    both(|db| {
        let mut conn = db.conn().unwrap();
        let c = citizen(&mut conn);
        assert_eq!(scr::get(&mut conn, &c.id).unwrap(), RecordState::default());
        let out = RecordState::OptedOut {
            at: at(10, 0, 0),
            record_started_at: Some(at(9, 0, 0)),
        };
        scr::put(&mut conn, &c.id, &out, at(10, 0, 0)).unwrap();
        assert_eq!(scr::get(&mut conn, &c.id).unwrap(), out);
        assert_eq!(
            scr::opted_out_before(&mut conn, at(10, 0, 1), 10).unwrap(),
            vec![c.id.clone()]
        );
        assert!(scr::opted_out_before(&mut conn, at(10, 0, 0), 10)
            .unwrap()
            .is_empty());
        let purged = RecordState::Purged {
            opted_out_at: at(10, 0, 0),
            purge_ordered_at: at(11, 0, 0),
        };
        scr::put(&mut conn, &c.id, &purged, at(11, 0, 0)).unwrap();
        assert_eq!(scr::get(&mut conn, &c.id).unwrap(), purged);
        scr::record_purge(&mut conn, &c.id, at(10, 0, 0), at(11, 0, 0), "scheduler").unwrap();
        let again = scr::record_purge(&mut conn, &c.id, at(10, 0, 0), at(11, 0, 1), "operator");
        assert!(again.is_err(), "one purge per opt-out");
        assert_eq!(scr::purges_ordered(&mut conn, &c.id).unwrap(), 1);
    });
}

#[test]
fn blocks_objections_and_openings_round_trip_and_one_of_each_is_in_force_on_both_backends() {
    use crate::sharing::{self, Choice, StoredChoice, StoredOpening};
    use domain::sharing::{
        BlockTarget, HprNumber, ObjectionTarget, OrganisationNumber, RecordPart,
    };
    both(|db| {
        let mut conn = db.conn().unwrap();
        let c = citizen(&mut conn);
        let stored = |id: &str, choice: Choice, t: DateTime<Utc>| StoredChoice {
            id: id.to_owned(),
            citizen_id: c.id.clone(),
            choice,
            created_at: t,
            created_by: c.id.clone(),
            lifted_at: None,
        };
        let hpr = HprNumber::parse("1234567").unwrap();
        let org = OrganisationNumber::parse("974749025").unwrap();
        let choices = [
            Choice::Block(BlockTarget::WholeRecord),
            Choice::Block(BlockTarget::Part(RecordPart::Medicines)),
            Choice::Block(BlockTarget::Professional(hpr.clone())),
            Choice::Objection(ObjectionTarget::Professional(hpr.clone())),
            Choice::Objection(ObjectionTarget::Organisation(org.clone())),
        ];
        for (i, ch) in choices.iter().enumerate() {
            sharing::insert(
                &mut conn,
                &stored(&format!("s{i}"), ch.clone(), at(10, 0, i as u32)),
            )
            .unwrap();
        }
        let listed = sharing::listed(&mut conn, &c.id).unwrap();
        let got: Vec<Choice> = listed.iter().map(|s| s.choice.clone()).collect();
        let mut newest_first = choices.to_vec();
        newest_first.reverse();
        assert_eq!(got, newest_first);
        let f = sharing::in_force(&mut conn, &c.id).unwrap();
        assert!(f.record_blocked());
        assert_eq!(f.objections.len(), 2);

        // The same target twice in force is refused by the index; after a lift it is allowed.
        let twice = sharing::insert(&mut conn, &stored("dup", choices[1].clone(), at(11, 0, 0)));
        assert!(twice.is_err(), "one block of a target in force");
        assert!(sharing::lift(&mut conn, "s1", at(11, 0, 0), &c.id).unwrap());
        assert!(!sharing::lift(&mut conn, "s1", at(11, 0, 1), &c.id).unwrap());
        assert_eq!(
            sharing::find(&mut conn, "s1").unwrap().unwrap().lifted_at,
            Some(at(11, 0, 0))
        );
        sharing::insert(
            &mut conn,
            &stored("again", choices[1].clone(), at(11, 0, 2)),
        )
        .unwrap();

        let opening = StoredOpening {
            id: "o1".into(),
            citizen_id: c.id.clone(),
            at: at(12, 0, 0),
            kind: "block_opened_in_emergency".into(),
            resource: "summary_care_record".into(),
            parts: vec![RecordPart::Medicines, RecordPart::Vaccinations],
            hpr_number: "1234567".into(),
            organisation_number: "974749025".into(),
            basis: "emergency".into(),
            stated_basis: Some("unconscious".into()),
            client_id: "dev-service-clinic".into(),
            log_seq: 7,
        };
        sharing::insert_opening(&mut conn, &opening).unwrap();
        assert_eq!(
            sharing::openings(&mut conn, &c.id, 10).unwrap(),
            vec![opening]
        );
    });
}

#[test]
fn a_log_cut_under_retention_still_verifies_and_goes_on_from_its_anchor() {
    both(|db| {
        let mut conn = db.conn().unwrap();
        let c = citizen(&mut conn);
        for s in 0..5 {
            usage_log::append(&mut conn, entry(&c.id, "login", at(10, 0, s))).unwrap();
        }
        // Entries before 10:00:03 go: seq 1-3.
        let gone = usage_log::cut_before(&mut conn, &c.id, at(10, 0, 3), at(11, 0, 0)).unwrap();
        assert_eq!(gone, 3);
        assert_eq!(usage_log::verify(&mut conn, &c.id).unwrap(), Ok(2));
        // Cut everything, then append: the chain goes on from the anchor.
        assert_eq!(
            usage_log::cut_before(&mut conn, &c.id, at(12, 0, 0), at(12, 0, 0)).unwrap(),
            2
        );
        assert_eq!(usage_log::verify(&mut conn, &c.id).unwrap(), Ok(0));
        let next =
            usage_log::append(&mut conn, entry(&c.id, "terms.withdrawn", at(12, 0, 1))).unwrap();
        assert_eq!(next.seq, 6);
        assert_eq!(usage_log::verify(&mut conn, &c.id).unwrap(), Ok(1));
        // A hand-edited row after the cut is still found.
        diesel::sql_query("UPDATE usage_log SET action = 'edited'")
            .execute(&mut conn)
            .unwrap();
        assert!(usage_log::verify(&mut conn, &c.id).unwrap().is_err());
    });
}

#[test]
fn connections_the_server_closed_are_replaced_without_a_failed_request() {
    // The pool hands out connections untested; a restart of PostgreSQL (here: every backend of
    // the database ended) must not turn into errors for the transactions that meet them, nor leave
    // the instance unready.
    let Some(pg) = crate::scratch::postgres() else {
        return;
    };
    let db = &pg.db;
    let end_every_backend = || {
        use diesel::connection::SimpleConnection;
        // Open all four of the pool's connections first, so that each is one the server closed.
        let held: Vec<_> = (0..4).map(|_| db.conn().unwrap()).collect();
        drop(held);
        let mut admin = crate::db::open_one(db.url()).unwrap();
        admin
            .batch_execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .unwrap();
    };
    end_every_backend();
    // Four at once, so that each of the four closed connections is met.
    let together = std::sync::Barrier::new(4);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                db.transaction(|conn| {
                    together.wait();
                    citizens::find_by_national_id(conn, &pid())
                })
                .expect("a transaction after the restart")
            });
        }
    });
    end_every_backend();
    assert!(
        db.is_ready(),
        "the readiness check replaces the closed connection it met"
    );
}
