//! `GET /`: a plain page for people who open the server in a browser (the real front end is a
//! separate application). No data, no script.

use actix_web::HttpResponse;

const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Consent portal</title></head>
<body>
<h1>Consent portal backend</h1>
<ul>
<li><a href="/auth/login">Log in</a></li>
<li><a href="/api/v1/me">Who am I</a> (after logging in)</li>
<li><a href="/docs/">API documentation</a></li>
</ul>
</body></html>
"#;

/// A page with links to log in and to the API documentation.
#[utoipa::path(get, path = "/", tag = "operations",
    responses((status = 200, description = "An HTML page", content_type = "text/html")))]
pub async fn home() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("content-security-policy", "default-src 'none'"))
        .body(PAGE)
}
