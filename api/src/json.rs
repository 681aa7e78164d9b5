//! The JSON body extractor: content type, size limit and deserialisation errors become
//! problem+json answers (415, 413, 400 with the field named), never a 500, and never an echo of
//! the submitted values (which could be identity numbers).

use actix_web::{dev::Payload, web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

pub struct JsonBody<T>(pub T);

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
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            if declared_len.is_some_and(|n| n > limit) {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk
                    .map_err(|_| ApiError::MalformedJson("the body could not be read".into()))?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            parse(&body).map(JsonBody)
        })
    }
}

/// Parses `bytes` as `T`, naming the field at fault.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            ApiError::MalformedJson(format!(
                "not valid JSON at line {} column {}",
                inner.line(),
                inner.column()
            ))
        } else {
            let path = e.path().to_string();
            let field = if path == "." { "body".to_owned() } else { path };
            ApiError::validation(&field, scrub(&inner.to_string()))
        }
    })?;
    de.end()
        .map_err(|_| ApiError::MalformedJson("unexpected data after the JSON value".into()))?;
    Ok(value)
}

/// Removes what a serde message may echo from the input: quoted strings and long digit runs.
/// Back-quoted names ("missing field `level`") stay: they name schema fields, and any identity
/// number inside them is a digit run.
/// "invalid type: string \"...\", expected ..." keeps its shape without the value.
fn scrub(message: &str) -> String {
    let without_line = message.split(" at line ").next().unwrap_or(message);
    let mut out = String::with_capacity(without_line.len());
    let mut in_quotes = false;
    let mut digits = String::new();
    for c in without_line.chars() {
        if c == '"' {
            if !in_quotes {
                out.push_str(&flush_digits(&mut digits));
                out.push(c);
                out.push('…');
            } else {
                out.push(c);
            }
            in_quotes = !in_quotes;
            continue;
        }
        if in_quotes {
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
        assert_eq!(errors[0].field, "body");
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
    fn scrub_keeps_short_numbers_and_drops_long_ones() {
        assert_eq!(scrub("expected 11 digits"), "expected 11 digits");
        assert_eq!(scrub("got 01018012345 here"), "got … here");
        assert_eq!(
            scrub("invalid type: string \"secret\", expected u64"),
            "invalid type: string \"…\", expected u64"
        );
    }
}
