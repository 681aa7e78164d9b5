//! In-portal notices of the birthday changes to guardians' access (DESIGN §2.6): to a guardian,
//! for each child whose 12th or 16th birthday is within 30 days; to a child from 12, ahead of
//! their 16th. Computed from (register, now) on every request: nothing is scheduled or stored.

use actix_web::web;
use chrono::{DateTime, Utc};
use domain::guardianship::{age_band, notice_due, AgeBand, GuardianAccess, Milestone, Transition};
use openapi::children::{Notice, NoticeList};
use openapi::powers_of_attorney::OtherParty;
use openapi::problem::Problem;

use crate::auth::citizen::ConsentedCitizen;
use crate::error::ApiError;
use crate::guardians::{self, full_name};
use crate::routes::powers_of_attorney::registered;
use crate::state::AppState;
use crate::views::upcoming_change;

fn guardian_message(t: &Transition, name: &str) -> String {
    match t.milestone {
        Milestone::RestrictedAtTwelve => format!(
            "{name} turns 12 on {on}. From then on you will see only appointments, vaccinations and \
co-payments for {name}; other health information and the summary care record will no longer be \
shown to you here.",
            on = t.on
        ),
        Milestone::EndsAtSixteen => format!(
            "{name} turns 16 on {on}. From then on you can no longer see {name}'s information or act \
for {name} here. {name} can give you a power of attorney if they want your help.",
            on = t.on
        ),
    }
}

fn own_message(t: &Transition) -> String {
    format!(
        "You turn 16 on {on}. From then on your guardians can no longer see your information or act \
for you here. You can give a parent a power of attorney if you want their help.",
        on = t.on
    )
}

/// The caller's notices now.
#[utoipa::path(
    get, path = "/api/v1/notices", tag = "citizen",
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, body = NoticeList),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`consent-required`, or sent with `X-Acting-For` (`not-allowed-on-behalf`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn notices(
    state: web::Data<AppState>,
    ConsentedCitizen(who): ConsentedCitizen,
) -> Result<web::Json<NoticeList>, ApiError> {
    let now: DateTime<Utc> = who.now;
    let config = state.config.clone();
    let me = who.citizen.clone();
    let items = state
        .tx(move |conn| {
            let mut items = Vec::new();
            if let Some(own) = registered(conn, &me.id, &config)? {
                let child = age_band(own.birth_date, now) == Some(AgeBand::TwelveToSixteen);
                if let Some(t) = notice_due(own.birth_date, now).filter(|_| child) {
                    items.push(Notice {
                        change: upcoming_change(t),
                        about: OtherParty {
                            citizen_id: me.id.clone(),
                            name: Some(full_name(&own)),
                        },
                        audience: "self".to_owned(),
                        message: own_message(&t),
                    });
                }
            }
            for (child, access) in guardians::children_of(conn, &me, &config, now)? {
                // No notice about a child whose access is not available: it would say why.
                if !matches!(access, GuardianAccess::Available(_)) {
                    continue;
                }
                let Some(t) = notice_due(child.facts.child.birth_date, now) else {
                    continue;
                };
                let name = child.name();
                items.push(Notice {
                    change: upcoming_change(t),
                    message: guardian_message(&t, &child.facts.child.given_name),
                    about: OtherParty {
                        citizen_id: child.citizen_id.clone().unwrap_or_default(),
                        name: Some(name),
                    },
                    audience: "guardian".to_owned(),
                });
            }
            Ok(items)
        })
        .await?;
    Ok(web::Json(NoticeList { items }))
}
