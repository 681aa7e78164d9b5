//! The email worker: sends planned messages over SMTP with lettre (or writes them as .eml files
//! in development), retries failures with backoff, and plans the reminders that come from the
//! clock rather than from a change (the restore deadline, expiring powers of attorney, children's
//! birthdays).
//!
//! Every instance runs it. A message is sent only by the instance that moved its due time from the
//! value it read (`persistence::notifications::claim`), and marked `sent` once the SMTP server
//! accepted it; a restart loses nothing (queued rows stay queued). If an instance dies between
//! the server's acceptance and the mark, the message is sent again after the lease: the
//! `Message-ID` is the same, so mail systems can tell. A failed send never touches the change
//! that planned it.

use std::time::Duration as StdDuration;

use actix_web::web;
use chrono::{DateTime, Duration, Utc};
use domain::guardianship::{notice_due, GuardianAccess};
use domain::notifications::{
    body, last_day_before, next_attempt, poa_expiry_due, scr_reminder_due, subject, Kind, Language,
};
use domain::powers_of_attorney::{status as grant_status, GrantStatus};
use domain::summary_care_record::{restore_deadline, RecordState};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use persistence::notifications::{self as store, Contact, Notification};
use persistence::{citizens, powers_of_attorney, summary_care_records, Db};
use rand::Rng;

use crate::config::Config;
use crate::error::ApiError;
use crate::guardians;
use crate::notify::{plan, StoredFacts};
use crate::routes::powers_of_attorney::grantor_alive;
use crate::state::AppState;

/// Messages sent at once per round.
const SEND_BATCH: i64 = 16;
/// How long a claimed message is held before another instance may try it.
const LEASE_SECONDS: i64 = 120;

/// Where messages go.
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

impl Mailer {
    /// The mailer `config` asks for; `None` when neither `SMTP_URL` nor `MAIL_DIR` is set.
    pub fn from_config(config: &Config) -> Result<Option<Mailer>, String> {
        if let Some(url) = &config.smtp_url {
            let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                // The URL may hold a password: never repeat it.
                .map_err(|_| "SMTP_URL is not a valid smtp:// or smtps:// URL".to_owned())?
                .timeout(Some(StdDuration::from_secs(30)))
                .build();
            return Ok(Some(Mailer::Smtp(transport)));
        }
        if let Some(dir) = &config.mail_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("MAIL_DIR {} cannot be created: {e}", dir.display()))?;
            return Ok(Some(Mailer::Files(AsyncFileTransport::new(dir))));
        }
        Ok(None)
    }

    async fn send(&self, message: Message) -> Result<(), String> {
        match self {
            Mailer::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| {
                // The server's answer, without the message or addresses.
                match e.status() {
                    Some(code) => format!("the mail server refused it ({code})"),
                    None if e.is_timeout() => "the mail server did not answer in time".to_owned(),
                    None => "the mail server could not be reached".to_owned(),
                }
            }),
            Mailer::Files(t) => t
                .send(message)
                .await
                .map(|_| ())
                .map_err(|_| "the message could not be written".to_owned()),
        }
    }
}

/// Starts the sending loop (when a mailer is configured and `NOTIFY_INTERVAL_MS` is not 0) and
/// the reminder loop (unless `REMINDER_INTERVAL_SECONDS` is 0).
pub fn spawn(state: web::Data<AppState>) -> Result<(), String> {
    let config = state.config.clone();
    if config.reminder_interval_seconds > 0 {
        let state = state.clone();
        actix_web::rt::spawn(async move {
            let period = StdDuration::from_secs(state.config.reminder_interval_seconds);
            let mut tick = actix_web::rt::time::interval(period);
            loop {
                tick.tick().await;
                let (db, config, now) = (state.db.clone(), state.config.clone(), state.now());
                match web::block(move || schedule_reminders(&db, &config, now)).await {
                    Ok(Ok(0)) => {}
                    Ok(Ok(queued)) => tracing::info!(queued, "reminders planned"),
                    Ok(Err(e)) => tracing::error!(error = %e, "planning reminders failed"),
                    Err(e) => tracing::error!(error = %e, "planning reminders failed"),
                }
            }
        });
    }
    let Some(mailer) = Mailer::from_config(&config)? else {
        tracing::info!("no SMTP_URL or MAIL_DIR: email notifications are planned, not sent");
        return Ok(());
    };
    if config.notify_interval_ms == 0 {
        return Ok(());
    }
    actix_web::rt::spawn(async move {
        let mut tick =
            actix_web::rt::time::interval(StdDuration::from_millis(config.notify_interval_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = send_due(&state, &mailer).await {
                tracing::error!(error = %e, "email round failed; retried next round");
            }
        }
    });
    Ok(())
}

/// The message of `n`, in its language.
fn message(config: &Config, n: &Notification) -> Result<Message, String> {
    let kind = Kind::parse(&n.kind).ok_or("an unknown kind of message")?;
    let lang = Language::parse(&n.language).unwrap_or_default();
    let facts: StoredFacts = serde_json::from_str(&n.facts).unwrap_or_default();
    let to: Mailbox = n
        .recipient
        .as_deref()
        .ok_or("no recipient")?
        .parse()
        .map_err(|_| "the recipient is not an address")?;
    let from: Mailbox = config
        .mail_from
        .parse()
        .map_err(|_| "MAIL_FROM is not an address")?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(subject(kind, lang))
        .message_id(Some(format!("<{}@consent-portal>", n.id)))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Content-Language"),
            lang.as_str().to_owned(),
        ))
        .header(ContentType::TEXT_PLAIN)
        .body(body(
            kind,
            lang,
            &facts.for_text(config.public_url.as_str()),
        ))
        .map_err(|_| "the message could not be built".to_owned())
}

/// Claims up to [`SEND_BATCH`] due messages and sends them one after the other.
async fn send_due(state: &AppState, mailer: &Mailer) -> Result<(), ApiError> {
    let now = state.now();
    let lease_until = now + Duration::seconds(LEASE_SECONDS);
    let claimed = state
        .tx(move |conn| {
            let mut mine = Vec::new();
            for n in store::due(conn, now, SEND_BATCH)? {
                if store::claim(conn, &n, lease_until)? {
                    mine.push(n);
                }
            }
            Ok(mine)
        })
        .await?;
    for n in claimed {
        let outcome = match message(&state.config, &n) {
            Ok(m) => mailer.send(m).await,
            Err(e) => Err(e),
        };
        let attempts = n.attempts + 1;
        let now = state.now();
        let (status, next, error) = match &outcome {
            Ok(()) => (store::SENT, None, None),
            Err(e) => {
                let jitter: f64 = rand::thread_rng().gen_range(-1.0..=1.0);
                let next = next_attempt(
                    u32::try_from(attempts).unwrap_or(u32::MAX),
                    state.config.notify_max_attempts,
                    state.config.notify_retry_base_seconds,
                    jitter,
                    now,
                );
                let status = if next.is_some() {
                    store::FAILED
                } else {
                    store::GIVEN_UP
                };
                tracing::info!(notification = %n.id, attempts, error = %e, "email not sent");
                (status, next, Some(e.clone()))
            }
        };
        let sent = outcome.is_ok();
        let id = n.id.clone();
        let facts = n.facts.clone();
        state
            .tx(move |conn| {
                store::record_attempt(conn, &id, attempts, status, next, error.as_deref(), now)?;
                if sent && facts.contains("confirmation_link") {
                    // The one-time link lives in the database only until it is sent.
                    store::clear_facts(conn, &id)?;
                }
                Ok(())
            })
            .await?;
    }
    Ok(())
}

/// Plans every reminder due at `now`, for everyone with a confirmed address; returns how many it
/// planned. Each citizen is planned in a transaction of its own; a citizen another instance is
/// planning at the same moment is left to that one (the occasion is unique).
pub fn schedule_reminders(db: &Db, config: &Config, now: DateTime<Utc>) -> Result<usize, ApiError> {
    let contacts = db.transaction(|conn| Ok::<_, ApiError>(store::confirmed_contacts(conn)?))?;
    let mut queued = 0;
    for c in contacts {
        match db.transaction(|conn| reminders_of(conn, config, &c, now)) {
            Ok(n) => queued += n,
            Err(e) => tracing::warn!(error = %e, "reminders of one citizen skipped this round"),
        }
    }
    Ok(queued)
}

fn reminders_of(
    conn: &mut persistence::AnyConnection,
    config: &Config,
    c: &Contact,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let me = &c.citizen_id;
    let mut queued = 0;
    // The summary care record's restore deadline.
    if let RecordState::OptedOut { at, .. } = summary_care_records::get(conn, me)? {
        let deadline = restore_deadline(at);
        if let Some(days) = scr_reminder_due(deadline, now) {
            let facts = StoredFacts {
                last_day: Some(last_day_before(deadline)),
                ..StoredFacts::default()
            };
            let occasion = format!("scr_reminder:{me}:{}:{days}", at.timestamp());
            queued += usize::from(plan(conn, me, Kind::ScrReminder, &facts, occasion, now)?);
        }
    }
    // Powers of attorney that end within 14 days, for either party.
    for g in powers_of_attorney::of_party(conn, me)? {
        let Some(end) = g.valid_until else { continue };
        let alive = grantor_alive(conn, &g, config, now)?;
        if grant_status(&g, alive, now) == GrantStatus::Active && poa_expiry_due(end, now) {
            let facts = StoredFacts {
                until: Some(last_day_before(end)),
                ..StoredFacts::default()
            };
            let occasion = format!("poa_expiring:{}:{me}", g.id);
            queued += usize::from(plan(conn, me, Kind::PoaExpiring, &facts, occasion, now)?);
        }
    }
    // Children's 12th and 16th birthdays, to a guardian whose access is available (one that is
    // not told why it is not is not told about the birthday either).
    if let Some(citizen) = citizens::find(conn, me)? {
        for (child, access) in guardians::children_of(conn, &citizen, config, now)? {
            if !matches!(access, GuardianAccess::Available(_)) {
                continue;
            }
            let Some(t) = notice_due(child.facts.child.birth_date, now) else {
                continue;
            };
            let facts = StoredFacts {
                birthday: Some((t.milestone.as_str().to_owned(), t.on)),
                ..StoredFacts::default()
            };
            let child_key = child
                .citizen_id
                .clone()
                .unwrap_or_else(|| child.facts.child.birth_date.to_string());
            let occasion = format!(
                "guardian_birthday:{me}:{child_key}:{}",
                t.milestone.as_str()
            );
            queued += usize::from(plan(
                conn,
                me,
                Kind::GuardianBirthday,
                &facts,
                occasion,
                now,
            )?);
        }
    }
    Ok(queued)
}
