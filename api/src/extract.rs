//! Request bodies and query strings, read into typed values.
//!
//! Both extractors always succeed and hold the outcome; the handler takes it with
//! `into_inner()?` after its authentication extractors have run. actix polls a handler's
//! extractors together, so an eager body error would race the authentication check: an
//! anonymous caller could learn about validation before being told to log in, and the answer to
//! the same request would vary. This way authentication, CSRF, assurance and consent always
//! answer first, and body or query problems only after.
//!
//! Problems: content type (415), size limit (413), JSON syntax (400 `malformed-json`), fields of
//! the wrong type or value named by their path (400 `validation-failed`). Messages never echo a
//! submitted value (which could be an identity number).

use actix_web::{dev::Payload, web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::{ready, LocalBoxFuture, Ready};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON request body; take it with [`JsonBody::into_inner`].
pub struct JsonBody<T>(Result<T, ApiError>);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> Result<T, ApiError> {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(16 * 1024, |s| s.config.max_json_body_bytes);
        let is_json = req.mime_type().ok().flatten().is_some_and(|m| {
            m.essence_str() == "application/json" || m.suffix() == Some(actix_web::mime::JSON)
        });
        let declared_len = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            let read = async {
                if !is_json {
                    return Err(ApiError::UnsupportedMediaType);
                }
                if declared_len.is_some_and(|n| n > limit) {
                    return Err(ApiError::PayloadTooLarge { limit });
                }
                // Room for what the client declared (at most `limit`): no growing while it is read.
                let mut body = web::BytesMut::with_capacity(declared_len.unwrap_or(0));
                while let Some(chunk) = payload.next().await {
                    let chunk = chunk.map_err(|_| {
                        ApiError::MalformedJson("the body could not be read".into())
                    })?;
                    if body.len() + chunk.len() > limit {
                        return Err(ApiError::PayloadTooLarge { limit });
                    }
                    body.extend_from_slice(&chunk);
                }
                parse(&body)
            };
            Ok(JsonBody(read.await))
        })
    }
}

/// Parses `bytes` as `T`, naming the field at fault. JSON syntax comes first: a value of the
/// wrong type (`{"level": 3}`) is a field error, but only in a document that is JSON throughout;
/// one that is not is `malformed-json`, wherever its first fault lies.
///
/// One pass straight into `T`, with no path kept (a `serde_json::Value` first, then `T` from it
/// with serde_path_to_error, cost a decision's handler about twice this). Only when that pass
/// fails is the document read again: for its syntax alone (the pass's own error does not tell:
/// serde_json calls a number where an enum's name belongs a syntax error), then with the path
/// kept, to name the field. A key given twice is a field error (serde's "duplicate field"), not
/// the last one silently winning.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    if let Ok(value) = T::deserialize(&mut de) {
        return de.end().map(|()| value).map_err(|e| malformed(&e));
    }
    // As a `Value` (not `IgnoredAny`, which skips strings without checking their UTF-8).
    if let Err(syntax) = serde_json::from_slice::<serde_json::Value>(bytes) {
        return Err(malformed(&syntax));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let message = e.inner().to_string();
        let field = field_name(&e.path().to_string(), &message, "body");
        ApiError::validation(&field, scrub(&message))
    })
}

fn malformed(e: &serde_json::Error) -> ApiError {
    ApiError::MalformedJson(format!(
        "not valid JSON at line {} column {}",
        e.line(),
        e.column()
    ))
}

/// A query string; take it with [`Query::into_inner`].
pub struct Query<T>(Result<T, ApiError>);

impl<T> Query<T> {
    pub fn into_inner(self) -> Result<T, ApiError> {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Query(parse_query(req.query_string()))))
    }
}

/// Parses a query string as `T`, naming the parameter at fault.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let message = e.inner().to_string();
        let field = field_name(&e.path().to_string(), &message, "query");
        ApiError::validation(&field, scrub(&message))
    })
}

/// The field at fault: serde's path, extended by the name of a missing field (serde reports a
/// missing field at its parent), or `root` for the whole document.
fn field_name(path: &str, message: &str, root: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
        .filter(|name| !name.is_empty());
    match (path, missing) {
        (".", Some(name)) => name.to_owned(),
        (".", None) => root.to_owned(),
        (path, Some(name)) => format!("{path}.{name}"),
        (path, None) => path.to_owned(),
    }
}

/// Removes what a serde message may echo from the input: quoted strings, the back-quoted name in
/// "unknown variant `...`" / "unknown field `...`" (the expected names after it stay), and runs
/// of five or more digits.
fn scrub(message: &str) -> String {
    let message = message.split(" at line ").next().unwrap_or(message);
    let (head, tail) = match message.find(", expected") {
        Some(i) => message.split_at(i),
        None => (message, ""),
    };
    let echoes_input = head.starts_with("unknown variant") || head.starts_with("unknown field");
    let mut out = String::with_capacity(message.len());
    out.push_str(&redact(head, echoes_input));
    out.push_str(&redact(tail, false));
    out
}

/// Replaces quoted strings (and, with `backquoted`, back-quoted ones) by `…`, and digit runs of
/// five or more by `…`.
fn redact(text: &str, backquoted: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut digits = String::new();
    for c in text.chars() {
        if let Some(q) = quote {
            if c == q {
                out.push('…');
                out.push(c);
                quote = None;
            }
            continue;
        }
        if c == '"' || (backquoted && c == '`') {
            out.push_str(&flush_digits(&mut digits));
            out.push(c);
            quote = Some(c);
            continue;
        }
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            out.push_str(&flush_digits(&mut digits));
            out.push(c);
        }
    }
    out.push_str(&flush_digits(&mut digits));
    out
}

fn flush_digits(digits: &mut String) -> String {
    let s = if digits.len() >= 5 {
        "…".to_owned()
    } else {
        digits.clone()
    };
    digits.clear();
    s
}

/// A free-text field: 1 to `max` characters after trimming, no control characters (line breaks
/// and tabs allowed when `multiline`), and no run of 11 digits, which could be an identity number
/// (they never go into logs or answers).
pub fn free_text(field: &str, value: &str, max: usize, multiline: bool) -> Result<(), ApiError> {
    let len = value.trim().chars().count();
    let bad_char = |c: char| c.is_control() && !(multiline && (c == '\n' || c == '\t'));
    if len == 0 || len > max || value.chars().any(bad_char) {
        return Err(ApiError::validation(
            field,
            format!("1 to {max} characters, no control characters"),
        ));
    }
    if value
        .split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() >= 11)
    {
        return Err(ApiError::validation(
            field,
            "must not carry an identity number",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        pid: u64,
        level: String,
    }

    #[test]
    fn names_the_field_and_echoes_no_value() {
        let err = parse::<Body>(br#"{"pid": "01018012345", "level": "full"}"#).unwrap_err();
        let ApiError::Validation(errors) = err else {
            panic!("expected validation")
        };
        assert_eq!(errors[0].field, "pid");
        assert!(!errors[0].detail.contains("0101"), "{}", errors[0].detail);
        let err = parse::<Body>(br#"{"pid": 1, "level": "full", "x12345678901": 1}"#).unwrap_err();
        let ApiError::Validation(errors) = err else {
            panic!("expected validation")
        };
        assert!(
            !errors[0].detail.contains("12345678901"),
            "{}",
            errors[0].detail
        );
    }

    #[test]
    fn missing_fields_and_syntax_errors() {
        let err = parse::<Body>(br#"{"pid": 1}"#).unwrap_err();
        let ApiError::Validation(errors) = err else {
            panic!("expected validation")
        };
        assert_eq!(errors[0].field, "level", "a missing field is named");
        assert!(errors[0].detail.contains("level"));
        assert!(matches!(
            parse::<Body>(b"{\"pid\": 1,"),
            Err(ApiError::MalformedJson(_))
        ));
        assert!(matches!(
            parse::<Body>(br#"{"pid": 1, "level": "x"} trailing"#),
            Err(ApiError::MalformedJson(_))
        ));
    }

    #[test]
    fn wrong_types_are_field_errors_not_syntax_errors() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Level {
            level: crate::extract::tests::Kind,
        }
        for body in [
            &br#"{"level": 3}"#[..],
            br#"{"level": null}"#,
            br#"{"level": "gold"}"#,
        ] {
            let err = parse::<Level>(body).unwrap_err();
            let ApiError::Validation(errors) = err else {
                panic!("expected validation for {body:?}")
            };
            assert_eq!(errors[0].field, "level");
            assert!(!errors[0].detail.contains("gold"), "{}", errors[0].detail);
        }
    }

    #[test]
    fn a_field_error_in_a_document_that_is_not_json_is_a_syntax_error() {
        for body in [
            &br#"{"pid": "x", "level": "full"} trailing"#[..],
            br#"{"pid": "x", "level": }"#,
            br#"{"pid": "x", "level": "full""#,
        ] {
            assert!(
                matches!(parse::<Body>(body), Err(ApiError::MalformedJson(_))),
                "{body:?}"
            );
        }
    }

    #[test]
    fn invalid_utf_8_in_a_string_is_a_syntax_error() {
        assert!(matches!(
            parse::<Body>(b"{\"pid\": \"\xff\", \"level\": \"full\"}"),
            Err(ApiError::MalformedJson(_))
        ));
    }

    #[test]
    fn a_key_given_twice_is_refused_naming_it() {
        let err = parse::<Body>(br#"{"pid": 1, "level": "a", "level": "b"}"#).unwrap_err();
        let ApiError::Validation(errors) = err else {
            panic!("expected validation")
        };
        assert!(
            errors[0].detail.contains("duplicate field `level`"),
            "{}",
            errors[0].detail
        );
    }

    #[test]
    fn a_valid_body_parses_with_surrounding_whitespace() {
        let b = parse::<Body>(b" {\"pid\": 7, \"level\": \"full\"}\n").unwrap();
        assert_eq!((b.pid, b.level.as_str()), (7, "full"));
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Basis,
    }

    #[test]
    fn query_errors_name_the_parameter() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Q {
            limit: Option<u32>,
        }
        let err = parse_query::<Q>("limit=abc").unwrap_err();
        let ApiError::Validation(errors) = err else {
            panic!("expected validation")
        };
        assert_eq!(errors[0].field, "limit");
        assert!(parse_query::<Q>("limit=5").unwrap().limit == Some(5));
        assert!(parse_query::<Q>("").unwrap().limit.is_none());
    }

    #[test]
    fn unknown_values_are_not_echoed_but_expected_names_are() {
        assert_eq!(
            scrub("unknown variant `1082 9241 876`, expected one of `basis`, `full`"),
            "unknown variant `…`, expected one of `basis`, `full`"
        );
        assert_eq!(scrub("missing field `level`"), "missing field `level`");
    }

    #[test]
    fn scrub_keeps_short_numbers_and_drops_long_ones() {
        assert_eq!(scrub("expected 11 digits"), "expected 11 digits");
        assert_eq!(scrub("got 01018012345 here"), "got … here");
        assert_eq!(
            scrub("invalid type: string \"secret\", expected u64"),
            "invalid type: string \"…\", expected u64"
        );
    }
}
