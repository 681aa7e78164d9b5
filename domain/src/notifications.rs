//! Email notifications (DESIGN §2.10): which change or date gives which message to whom, when the
//! scheduled reminders are due, and the messages' words in Norwegian bokmål and English.
//!
//! Messages are short and plain, carry no health data and no identity number, and send the
//! reader to the portal for the details. Nothing is ever sent to a guardian about what a child's
//! refusal or a weighty-reasons denial hides, nor that such a thing exists: the
//! `child_restriction.*` events have no message at all ([`for_event`]).

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::clock::oslo_date;
use crate::guardianship::Milestone;

/// The two languages the portal writes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// Norwegian bokmål, the default.
    #[default]
    Nb,
    En,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Nb => "nb",
            Language::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Language> {
        match s {
            "nb" => Some(Language::Nb),
            "en" => Some(Language::En),
            _ => None,
        }
    }
}

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    EmailConfirmation,
    TermsChanged,
    PoaGranted,
    PoaAccepted,
    PoaDeclined,
    PoaEnded,
    PoaExpiring,
    ScrOptedOut,
    ScrReminder,
    ScrRestored,
    ScrPurgeOrdered,
    ScrNewRecord,
    HealthDataOpened,
    GuardianBirthday,
    DataRequestUpdate,
}

impl Kind {
    pub const ALL: [Kind; 15] = [
        Kind::EmailConfirmation,
        Kind::TermsChanged,
        Kind::PoaGranted,
        Kind::PoaAccepted,
        Kind::PoaDeclined,
        Kind::PoaEnded,
        Kind::PoaExpiring,
        Kind::ScrOptedOut,
        Kind::ScrReminder,
        Kind::ScrRestored,
        Kind::ScrPurgeOrdered,
        Kind::ScrNewRecord,
        Kind::HealthDataOpened,
        Kind::GuardianBirthday,
        Kind::DataRequestUpdate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::EmailConfirmation => "email_confirmation",
            Kind::TermsChanged => "terms_changed",
            Kind::PoaGranted => "poa_granted",
            Kind::PoaAccepted => "poa_accepted",
            Kind::PoaDeclined => "poa_declined",
            Kind::PoaEnded => "poa_ended",
            Kind::PoaExpiring => "poa_expiring",
            Kind::ScrOptedOut => "scr_opted_out",
            Kind::ScrReminder => "scr_reminder",
            Kind::ScrRestored => "scr_restored",
            Kind::ScrPurgeOrdered => "scr_purge_ordered",
            Kind::ScrNewRecord => "scr_new_record",
            Kind::HealthDataOpened => "health_data_opened",
            Kind::GuardianBirthday => "guardian_birthday",
            Kind::DataRequestUpdate => "data_request_update",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether it may go to an address not yet confirmed: only the confirmation itself.
    pub fn needs_confirmed_address(self) -> bool {
        self != Kind::EmailConfirmation
    }
}

/// Who receives the message of a change-feed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipients {
    /// The citizen the event is about.
    Subject,
    /// The grantee of the power of attorney the event is about.
    Grantee,
    /// Both parties of the power of attorney.
    BothParties,
}

/// The message a change-feed event of `event_type` gives, and to whom; `None` for events the
/// citizen is not written to about (and for every `child_restriction.*` event, on purpose).
pub fn for_event(event_type: &str) -> Option<(Kind, Recipients)> {
    use Recipients::*;
    Some(match event_type {
        "terms.accepted" | "terms.level_changed" | "terms.withdrawn" => {
            (Kind::TermsChanged, Subject)
        }
        "power_of_attorney.granted" => (Kind::PoaGranted, Grantee),
        "power_of_attorney.accepted" => (Kind::PoaAccepted, BothParties),
        "power_of_attorney.declined" => (Kind::PoaDeclined, BothParties),
        // Ended by either party, or for a reason the portal records (`EndReason`).
        "power_of_attorney.ended"
        | "power_of_attorney.revoked_by_grantor"
        | "power_of_attorney.revoked_by_grantee"
        | "power_of_attorney.expired"
        | "power_of_attorney.grantor_withdrew_consent"
        | "power_of_attorney.grantor_died" => (Kind::PoaEnded, BothParties),
        "summary_care_record.opted_out" => (Kind::ScrOptedOut, Subject),
        "summary_care_record.restored" => (Kind::ScrRestored, Subject),
        "summary_care_record.purge_ordered" => (Kind::ScrPurgeOrdered, Subject),
        "summary_care_record.new_record" => (Kind::ScrNewRecord, Subject),
        "summary_care_record.block_opened"
        | "objection.overridden"
        | "access.emergency_reported" => (Kind::HealthDataOpened, Subject),
        "data_request.received"
        | "data_request.acknowledged"
        | "data_request.extended"
        | "data_request.answered"
        | "data_request.refused" => (Kind::DataRequestUpdate, Subject),
        _ => return None,
    })
}

/// Days before the restore deadline at which the summary care record reminders are due.
pub const SCR_REMINDER_DAYS: [i64; 2] = [7, 1];
/// Days before a power of attorney's end at which both parties are reminded.
pub const POA_EXPIRY_NOTICE_DAYS: i64 = 14;

/// The summary care record reminder due at `now` for a restore `deadline`: the one of
/// [`SCR_REMINDER_DAYS`] closest to the deadline whose time has come, while the record can still
/// be restored. When the clock has passed both (a server that was down), only the later one is
/// sent: two reminders at once would say the same thing twice.
pub fn scr_reminder_due(deadline: DateTime<Utc>, now: DateTime<Utc>) -> Option<i64> {
    if now >= deadline {
        return None;
    }
    SCR_REMINDER_DAYS
        .into_iter()
        .filter(|d| now >= deadline - Duration::days(*d))
        .min()
}

/// Whether the expiry reminder of a grant ending at `valid_until` is due at `now`.
pub fn poa_expiry_due(valid_until: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now < valid_until && now >= valid_until - Duration::days(POA_EXPIRY_NOTICE_DAYS)
}

/// When to try a message again after its `attempts`-th failed attempt (1-based): the backoff of
/// [`crate::retry::retry_delay`]; `None` once `max_attempts` have failed (given up).
pub fn next_attempt(
    attempts: u32,
    max_attempts: u32,
    base_seconds: u64,
    jitter: f64,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    (attempts < max_attempts)
        .then(|| now + crate::retry::retry_delay(attempts, base_seconds, jitter))
}

/// What a message says beyond its kind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    /// The portal's address, for the link.
    pub portal_url: String,
    /// `ScrOptedOut`, `ScrReminder`: the last Oslo day the record can be restored.
    pub last_day: Option<NaiveDate>,
    /// `PoaExpiring`: the last Oslo day the grant holds.
    pub until: Option<NaiveDate>,
    /// `GuardianBirthday`: which change and on which day.
    pub birthday: Option<(Milestone, NaiveDate)>,
    /// `EmailConfirmation`: the one-time link.
    pub confirmation_link: Option<String>,
}

/// The last Oslo day before `deadline` (an exclusive instant).
pub fn last_day_before(deadline: DateTime<Utc>) -> NaiveDate {
    oslo_date(deadline - Duration::seconds(1))
}

/// The subject line of `kind` in `lang`.
pub fn subject(kind: Kind, lang: Language) -> &'static str {
    use Kind::*;
    use Language::*;
    match (kind, lang) {
        (EmailConfirmation, En) => "Confirm your email address",
        (EmailConfirmation, Nb) => "Bekreft e-postadressen din",
        (TermsChanged, En) => "Your consent to use the services has changed",
        (TermsChanged, Nb) => "Samtykket ditt til bruk av tjenestene er endret",
        (PoaGranted, En) => "You have been given a power of attorney",
        (PoaGranted, Nb) => "Du har fått en fullmakt",
        (PoaAccepted, En) => "A power of attorney was accepted",
        (PoaAccepted, Nb) => "En fullmakt er akseptert",
        (PoaDeclined, En) => "A power of attorney was declined",
        (PoaDeclined, Nb) => "En fullmakt er avslått",
        (PoaEnded, En) => "A power of attorney has ended",
        (PoaEnded, Nb) => "En fullmakt er avsluttet",
        (PoaExpiring, En) => "A power of attorney expires in 14 days",
        (PoaExpiring, Nb) => "En fullmakt utløper om 14 dager",
        (ScrOptedOut, En) => "You have opted out of the summary care record",
        (ScrOptedOut, Nb) => "Du har reservert deg mot kjernejournal",
        (ScrReminder, En) => "Your summary care record will be deleted soon",
        (ScrReminder, Nb) => "Kjernejournalen din slettes snart",
        (ScrRestored, En) => "Your summary care record is restored",
        (ScrRestored, Nb) => "Kjernejournalen din er gjenopprettet",
        (ScrPurgeOrdered, En) => "Your summary care record is being deleted",
        (ScrPurgeOrdered, Nb) => "Kjernejournalen din slettes",
        (ScrNewRecord, En) => "You have a new summary care record",
        (ScrNewRecord, Nb) => "Du har fått en ny kjernejournal",
        (HealthDataOpened, En) => "Your health information was opened",
        (HealthDataOpened, Nb) => "Helseopplysningene dine ble åpnet",
        (GuardianBirthday, En) => "A change ahead for your child",
        (GuardianBirthday, Nb) => "En endring for barnet ditt",
        (DataRequestUpdate, En) => "News about your request concerning your personal data",
        (DataRequestUpdate, Nb) => "Nytt om henvendelsen din om personopplysninger",
    }
}

fn date(d: Option<NaiveDate>, lang: Language) -> String {
    let Some(d) = d else {
        return String::new();
    };
    match lang {
        Language::En => d.format("%-d %B %Y").to_string(),
        Language::Nb => {
            const MONTHS: [&str; 12] = [
                "januar",
                "februar",
                "mars",
                "april",
                "mai",
                "juni",
                "juli",
                "august",
                "september",
                "oktober",
                "november",
                "desember",
            ];
            use chrono::Datelike;
            let month = MONTHS[usize::try_from(d.month0()).unwrap_or(0) % 12];
            format!("{}. {month} {}", d.day(), d.year())
        }
    }
}

/// The body of `kind` in `lang`: what happened, in a sentence or two, and the link.
pub fn body(kind: Kind, lang: Language, facts: &Facts) -> String {
    use Kind::*;
    use Language::*;
    let last_day = date(facts.last_day, lang);
    let until = date(facts.until, lang);
    let main = match (kind, lang) {
        (EmailConfirmation, En) => format!(
            "Open this link within 24 hours to confirm that this is your email address:\n{}\n\nIf you did not ask for this, ignore this message.",
            facts.confirmation_link.as_deref().unwrap_or_default()
        ),
        (EmailConfirmation, Nb) => format!(
            "Åpne denne lenken innen 24 timer for å bekrefte at dette er e-postadressen din:\n{}\n\nHar du ikke bedt om dette, kan du se bort fra meldingen.",
            facts.confirmation_link.as_deref().unwrap_or_default()
        ),
        (TermsChanged, En) => "Your consent to use the health services on the portal has changed.".to_owned(),
        (TermsChanged, Nb) => "Samtykket ditt til bruk av helsetjenestene på portalen er endret.".to_owned(),
        (PoaGranted, En) => "Someone has given you a power of attorney to act for them. Log in to see it and to accept or decline it.".to_owned(),
        (PoaGranted, Nb) => "Noen har gitt deg fullmakt til å handle på deres vegne. Logg inn for å se fullmakten og takke ja eller nei.".to_owned(),
        (PoaAccepted, En) => "A power of attorney you are a party to has been accepted.".to_owned(),
        (PoaAccepted, Nb) => "En fullmakt du er part i, er akseptert.".to_owned(),
        (PoaDeclined, En) => "A power of attorney you are a party to has been declined.".to_owned(),
        (PoaDeclined, Nb) => "En fullmakt du er part i, er avslått.".to_owned(),
        (PoaEnded, En) => "A power of attorney you are a party to has ended.".to_owned(),
        (PoaEnded, Nb) => "En fullmakt du er part i, er avsluttet.".to_owned(),
        (PoaExpiring, En) => format!("A power of attorney you are a party to holds until {until}. It can be renewed by giving a new one."),
        (PoaExpiring, Nb) => format!("En fullmakt du er part i, gjelder til og med {until}. Den kan fornyes ved at en ny fullmakt gis."),
        (ScrOptedOut, En) => format!("You have opted out of the summary care record. If you change your mind, you can have it restored until the end of {last_day}. After that the information is deleted."),
        (ScrOptedOut, Nb) => format!("Du har reservert deg mot kjernejournal. Ombestemmer du deg, kan du få den gjenopprettet til og med {last_day}. Etter det slettes opplysningene."),
        (ScrReminder, En) => format!("Your summary care record will be deleted after {last_day}. Until then you can still have it restored."),
        (ScrReminder, Nb) => format!("Kjernejournalen din slettes etter {last_day}. Til da kan du fortsatt få den gjenopprettet."),
        (ScrRestored, En) => "Your summary care record is restored, as it was.".to_owned(),
        (ScrRestored, Nb) => "Kjernejournalen din er gjenopprettet slik den var.".to_owned(),
        (ScrPurgeOrdered, En) => "The 30 days have passed and your summary care record is being deleted. You can ask for a new one at any time.".to_owned(),
        (ScrPurgeOrdered, Nb) => "De 30 dagene har gått, og kjernejournalen din slettes. Du kan når som helst be om en ny.".to_owned(),
        (ScrNewRecord, En) => "You have a new summary care record. It holds information from today on.".to_owned(),
        (ScrNewRecord, Nb) => "Du har fått en ny kjernejournal. Den inneholder opplysninger fra i dag av.".to_owned(),
        (HealthDataOpened, En) => "Health personnel have opened health information about you that you had blocked, or accessed it in an emergency. Log in to see who and when.".to_owned(),
        (HealthDataOpened, Nb) => "Helsepersonell har åpnet helseopplysninger om deg som du hadde sperret, eller fått tilgang i en nødsituasjon. Logg inn for å se hvem og når.".to_owned(),
        (DataRequestUpdate, En) => "There is news about a request you made concerning your personal data. Log in to read it.".to_owned(),
        (DataRequestUpdate, Nb) => "Det er nytt om en henvendelse du har sendt om personopplysningene dine. Logg inn for å lese det.".to_owned(),
        (GuardianBirthday, lang) => {
            let (milestone, on) = match facts.birthday {
                Some((m, on)) => (Some(m), date(Some(on), lang)),
                None => (None, String::new()),
            };
            match (milestone, lang) {
                (Some(Milestone::RestrictedAtTwelve), En) => format!("On {on} your child turns 12. From then on you will see less of the child's information here. Log in to read what changes."),
                (Some(Milestone::RestrictedAtTwelve), Nb) => format!("{on} fyller barnet ditt 12 år. Fra da av ser du mindre av barnets opplysninger her. Logg inn for å lese hva som endres."),
                (_, En) => format!("On {on} your child turns 16. From then on you can no longer see the child's information or act for them here. Log in to read more."),
                (_, Nb) => format!("{on} fyller barnet ditt 16 år. Fra da av kan du ikke lenger se barnets opplysninger eller handle for barnet her. Logg inn for å lese mer."),
            }
        }
    };
    let footer = match lang {
        En => format!("\n\nLog in to the health portal: {}\n\nThis message was sent automatically; do not reply.\n", facts.portal_url),
        Nb => format!("\n\nLogg inn på helseportalen: {}\n\nDenne meldingen er sendt automatisk og kan ikke besvares.\n", facts.portal_url),
    };
    format!("{main}{footer}")
}

/// Whether `phone` is an international number: `+` and 8 to 15 digits.
pub fn phone_is_valid(phone: &str) -> bool {
    phone
        .strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap()
    }

    #[test]
    fn reminders_come_seven_days_and_one_day_before_the_deadline() {
        // The deadline is 00:00 Oslo on 24 December (23:00 UTC on the 23rd).
        let deadline = utc(2026, 12, 23, 23, 0, 0);
        assert_eq!(
            scr_reminder_due(deadline, utc(2026, 12, 16, 22, 59, 59)),
            None
        );
        assert_eq!(
            scr_reminder_due(deadline, utc(2026, 12, 16, 23, 0, 0)),
            Some(7)
        );
        assert_eq!(
            scr_reminder_due(deadline, utc(2026, 12, 22, 22, 59, 59)),
            Some(7)
        );
        assert_eq!(
            scr_reminder_due(deadline, utc(2026, 12, 22, 23, 0, 0)),
            Some(1)
        );
        assert_eq!(
            scr_reminder_due(deadline, utc(2026, 12, 23, 22, 59, 59)),
            Some(1)
        );
        assert_eq!(scr_reminder_due(deadline, deadline), None);
    }

    #[test]
    fn the_expiry_reminder_is_due_in_the_last_fourteen_days() {
        let end = utc(2027, 1, 31, 23, 0, 0);
        assert!(!poa_expiry_due(
            end,
            end - Duration::days(14) - Duration::seconds(1)
        ));
        assert!(poa_expiry_due(end, end - Duration::days(14)));
        assert!(poa_expiry_due(end, end - Duration::seconds(1)));
        assert!(!poa_expiry_due(end, end));
    }

    #[test]
    fn child_restrictions_and_logins_give_no_message() {
        for quiet in [
            "child_restriction.refusal_registered",
            "child_restriction.denial_registered",
            "child_restriction.lifted",
            "login",
            "access_switch.changed",
        ] {
            assert_eq!(for_event(quiet), None, "{quiet}");
        }
        assert_eq!(
            for_event("power_of_attorney.granted"),
            Some((Kind::PoaGranted, Recipients::Grantee))
        );
        assert_eq!(
            for_event("power_of_attorney.revoked_by_grantee"),
            Some((Kind::PoaEnded, Recipients::BothParties))
        );
        assert_eq!(
            for_event("objection.overridden"),
            Some((Kind::HealthDataOpened, Recipients::Subject))
        );
    }

    #[test]
    fn every_message_has_both_languages_no_identity_number_and_the_link() {
        let facts = Facts {
            portal_url: "https://portal.example/".into(),
            last_day: NaiveDate::from_ymd_opt(2026, 12, 23),
            until: NaiveDate::from_ymd_opt(2027, 1, 31),
            birthday: Some((
                Milestone::EndsAtSixteen,
                NaiveDate::from_ymd_opt(2026, 12, 20).unwrap(),
            )),
            confirmation_link: Some("https://portal.example/confirm?token=abc".into()),
        };
        for kind in Kind::ALL {
            for lang in [Language::Nb, Language::En] {
                let text = format!("{}\n{}", subject(kind, lang), body(kind, lang, &facts));
                assert!(
                    text.contains("https://portal.example/"),
                    "{kind:?} {lang:?}"
                );
                assert!(
                    !text
                        .split(|c: char| !c.is_ascii_digit())
                        .any(|run| run.len() >= 11),
                    "{kind:?} {lang:?}"
                );
                assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            }
        }
        assert_ne!(
            subject(Kind::ScrReminder, Language::Nb),
            subject(Kind::ScrReminder, Language::En)
        );
        assert!(body(Kind::ScrOptedOut, Language::Nb, &facts).contains("23. desember 2026"));
        assert!(body(Kind::ScrOptedOut, Language::En, &facts).contains("23 December 2026"));
    }

    #[test]
    fn a_failed_message_is_retried_until_the_last_attempt() {
        let now = utc(2026, 11, 30, 9, 0, 0);
        assert_eq!(
            next_attempt(1, 3, 10, 0.0, now),
            Some(now + Duration::seconds(10))
        );
        assert_eq!(
            next_attempt(2, 3, 10, 0.0, now),
            Some(now + Duration::seconds(20))
        );
        assert_eq!(next_attempt(3, 3, 10, 0.0, now), None);
    }

    #[test]
    fn phone_numbers_are_international() {
        assert!(phone_is_valid("+4791234567"));
        assert!(phone_is_valid("+12345678"));
        assert!(!phone_is_valid("91234567"));
        assert!(!phone_is_valid("+1234567"));
        assert!(!phone_is_valid("+1234567890123456"));
        assert!(!phone_is_valid("+47 912 34 567"));
    }
}
