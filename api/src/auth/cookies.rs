//! The session cookie and the login-binding cookie.
//!
//! With `COOKIE_SECURE=true` (the default) both carry the `__Host-` prefix, `Secure`, `HttpOnly`,
//! `SameSite=Lax` and `Path=/`. Browsers accept `Secure` cookies on http://127.0.0.1 and
//! http://localhost, so the dev setup keeps them. `COOKIE_SECURE=false` (loopback only, refused
//! elsewhere at start-up) drops `Secure` and therefore the prefix, which requires it.
//! `Lax` rather than `Strict`: the login callback is a top-level navigation from the provider's
//! site and must carry the login-binding cookie.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::HttpRequest;

use crate::config::Config;

pub fn session_cookie_name(config: &Config) -> &'static str {
    if config.cookie_secure {
        "__Host-portal-session"
    } else {
        "portal-session"
    }
}

pub fn login_cookie_name(config: &Config) -> &'static str {
    if config.cookie_secure {
        "__Host-portal-login"
    } else {
        "portal-login"
    }
}

fn build(
    config: &Config,
    name: &'static str,
    value: String,
    max_age: CookieDuration,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .secure(config.cookie_secure)
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .finish()
}

pub fn session(config: &Config, token: String) -> Cookie<'static> {
    let max_age = CookieDuration::minutes(config.session_absolute_minutes);
    build(config, session_cookie_name(config), token, max_age)
}

pub fn clear_session(config: &Config) -> Cookie<'static> {
    build(
        config,
        session_cookie_name(config),
        String::new(),
        CookieDuration::ZERO,
    )
}

pub fn login(config: &Config, token: String) -> Cookie<'static> {
    build(
        config,
        login_cookie_name(config),
        token,
        CookieDuration::minutes(10),
    )
}

pub fn clear_login(config: &Config) -> Cookie<'static> {
    build(
        config,
        login_cookie_name(config),
        String::new(),
        CookieDuration::ZERO,
    )
}

pub fn read(req: &HttpRequest, name: &str) -> Option<String> {
    req.cookie(name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}
