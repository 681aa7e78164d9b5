//! A real SMTP server in the test process (`mailin-embedded`) that records every message the
//! server under test sends, and can be told to refuse the next transactions so that the sender
//! has to retry.
//!
//! Start one per test with [`MailServer::start`] and give the server under test its [`url`]
//! (`SMTP_URL`). Plain SMTP on 127.0.0.1, no TLS, no authentication.
//!
//! `mailin-embedded` serves with blocking I/O on a thread pool and has no way to stop: its accept
//! loop runs on a thread of its own for the rest of the test process (one thread plus an idle
//! pool per server; the port stays bound). When a [`MailServer`] is dropped it stops taking mail:
//! every later session is answered `421` (service not available, closing) to its EHLO/HELO, so a
//! sender that is still running sees a server that is down, and nothing more is recorded.
//!
//! Refusals ([`MailServer::refuse_next`]) answer the DATA command, before any content: the
//! client's transaction fails cleanly (it can RSET or QUIT), and a refused attempt is recorded as
//! a [`Refusal`] (envelope only), never as a received message.
//!
//! [`url`]: MailServer::url

use std::collections::VecDeque;
use std::future::Future;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mailin_embedded::{response, Handler, Response, Server};

/// The longest wait for a message the server under test should send.
pub const WAIT: Duration = Duration::from_secs(20);
/// How long nothing more must arrive for [`MailServer::stays_at`].
pub const QUIET: Duration = Duration::from_secs(3);
/// How often the waits look.
pub const POLL: Duration = Duration::from_millis(150);

/// Concurrent SMTP sessions (a pooling sender keeps connections open, two servers under test
/// may each keep several).
const SESSIONS: u32 = 8;

// -------------------------------------------------------------------------------- messages

/// One message as the SMTP server received it, with its envelope and its parsed content.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`), as sent.
    pub to: Vec<String>,
    /// The header fields in order: names as sent, values unfolded and with RFC 2047
    /// encoded-words decoded.
    pub headers: Vec<(String, String)>,
    /// The text: the body (or the first `text/plain` part of a multipart body), decoded from its
    /// transfer encoding (quoted-printable, base64, 7bit or 8bit) as UTF-8, line ends `\n`.
    pub body: String,
    /// The message as transmitted (after dot-unstuffing).
    pub raw: String,
    /// When it arrived.
    pub at: Instant,
}

impl Mail {
    /// The first header field called `name` (case-insensitive), decoded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header field called `name` (case-insensitive), decoded.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The decoded Subject ("" when there is none).
    pub fn subject(&self) -> &str {
        self.header("subject").unwrap_or_default()
    }

    /// The Message-ID header, as sent (with its angle brackets).
    pub fn message_id(&self) -> Option<&str> {
        self.header("message-id")
    }

    /// The Content-Language header.
    pub fn content_language(&self) -> Option<&str> {
        self.header("content-language")
    }

    /// Whether `address` is an envelope recipient (case-insensitive).
    pub fn is_to(&self, address: &str) -> bool {
        self.to.iter().any(|t| t.eq_ignore_ascii_case(address))
    }

    /// Every http(s) URL in the body, in order.
    pub fn links(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find("http") {
            let candidate = &rest[i..];
            if candidate.starts_with("http://") || candidate.starts_with("https://") {
                let end = candidate
                    .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | ')'))
                    .unwrap_or(candidate.len());
                let url = candidate[..end].trim_end_matches(['.', ',', ';', ':']);
                out.push(url.to_owned());
                rest = &candidate[end..];
            } else {
                rest = &candidate[4..];
            }
        }
        out
    }

    /// The first link in the body that starts with `prefix`.
    pub fn link_starting_with(&self, prefix: &str) -> Option<String> {
        self.links().into_iter().find(|l| l.starts_with(prefix))
    }

    /// Subject and body together: what a reader sees.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.subject(), self.body)
    }
}

/// One transaction the server refused (see [`MailServer::refuse_next`]).
#[derive(Debug, Clone)]
pub struct Refusal {
    pub from: String,
    pub to: Vec<String>,
    /// The reply code it got.
    pub code: u16,
    pub at: Instant,
}

// -------------------------------------------------------------------------------- server

#[derive(Default)]
struct Shared {
    received: Vec<Mail>,
    refused: Vec<Refusal>,
    /// Reply codes for the next DATA commands, in order.
    script: VecDeque<u16>,
    /// Set when the [`MailServer`] is dropped.
    closed: bool,
}

/// An SMTP server on 127.0.0.1 (see the module documentation).
pub struct MailServer {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl MailServer {
    /// Starts a server on a free port of 127.0.0.1, its accept loop on a thread of its own.
    pub fn start() -> MailServer {
        MailServer::start_on(0)
    }

    /// Starts a server on `port` of 127.0.0.1 (0: a free one), e.g. where a server under test
    /// has been failing to connect.
    pub fn start_on(port: u16) -> MailServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("a port for the SMTP server");
        let addr = listener.local_addr().expect("the SMTP server's address");
        let shared = Arc::new(Mutex::new(Shared::default()));
        let mut server = Server::new(Session::new(shared.clone()));
        server
            .with_name("mail.test.invalid")
            .with_num_threads(SESSIONS)
            .with_tcp_listener(listener);
        std::thread::Builder::new()
            .name(format!("smtp-{}", addr.port()))
            .spawn(move || {
                // Runs for the rest of the process (mailin-embedded cannot be stopped).
                if let Err(e) = server.serve() {
                    eprintln!("the test SMTP server stopped: {e}");
                }
            })
            .expect("the SMTP server's thread");
        MailServer { addr, shared }
    }

    /// `smtp://127.0.0.1:<port>`, for `SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }

    /// Every message received so far, in order of arrival.
    pub fn messages(&self) -> Vec<Mail> {
        self.lock().received.clone()
    }

    /// The messages received so far with `address` among their recipients.
    pub fn messages_to(&self, address: &str) -> Vec<Mail> {
        self.messages()
            .into_iter()
            .filter(|m| m.is_to(address))
            .collect()
    }

    /// Every transaction refused so far (by [`refuse_next`](Self::refuse_next)).
    pub fn refusals(&self) -> Vec<Refusal> {
        self.lock().refused.clone()
    }

    /// The next `n` transactions get `code` (e.g. 451, or 550 for a permanent refusal) in answer
    /// to their DATA command, before any content is sent, so the sender has to try again. A 421
    /// also closes the connection. Adds to what is already scripted.
    pub fn refuse_next(&self, n: usize, code: u16) {
        assert!((400..600).contains(&code), "a refusal is a 4xx or 5xx");
        self.lock().script.extend(std::iter::repeat_n(code, n));
    }

    /// How many scripted refusals have not been used yet.
    pub fn refusals_pending(&self) -> usize {
        self.lock().script.len()
    }

    /// Waits (at most [`WAIT`]) until at least `n` messages arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        self.wait_until(&format!("{n} messages"), |all| all.len() >= n)
            .await
    }

    /// Waits (at most [`WAIT`]) until at least `n` messages to `address` arrived; returns the
    /// messages to `address`.
    pub async fn wait_for_to(&self, address: &str, n: usize) -> Vec<Mail> {
        self.wait_until(&format!("{n} messages to {address}"), |all| {
            all.iter().filter(|m| m.is_to(address)).count() >= n
        })
        .await;
        self.messages_to(address)
    }

    /// Waits (at most [`WAIT`]) until `done` holds for the messages received; returns them all.
    pub async fn wait_until(&self, what: &str, mut done: impl FnMut(&[Mail]) -> bool) -> Vec<Mail> {
        eventually(what, || {
            let all = self.messages();
            let ok = done(&all);
            async move { ok.then_some(all) }
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "waited {WAIT:?} for {what}; received: {:#?}",
                summary(&self.messages())
            )
        })
    }

    /// Checks that exactly `n` messages have arrived and no more arrive for [`QUIET`]; returns
    /// them.
    pub async fn stays_at(&self, n: usize) -> Vec<Mail> {
        self.stays_at_where("messages", n, |_| true).await
    }

    /// Checks that exactly `n` messages to `address` have arrived and no more arrive for
    /// [`QUIET`]; returns them.
    pub async fn stays_at_to(&self, address: &str, n: usize) -> Vec<Mail> {
        self.stays_at_where(&format!("messages to {address}"), n, |m| m.is_to(address))
            .await
    }

    /// Checks that exactly `n` messages for which `which` holds have arrived and no more arrive
    /// for [`QUIET`]; returns them.
    pub async fn stays_at_where(
        &self,
        what: &str,
        n: usize,
        which: impl Fn(&Mail) -> bool,
    ) -> Vec<Mail> {
        let until = Instant::now() + QUIET;
        loop {
            let got: Vec<Mail> = self.messages().into_iter().filter(|m| which(m)).collect();
            assert_eq!(
                got.len(),
                n,
                "{what} (quiet period): {:#?}",
                summary(&self.messages())
            );
            if Instant::now() >= until {
                return got;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        self.lock().closed = true;
    }
}

/// (recipients, subject) of each message, for failure output.
pub fn summary(mails: &[Mail]) -> Vec<(Vec<String>, String)> {
    mails
        .iter()
        .map(|m| (m.to.clone(), m.subject().to_owned()))
        .collect()
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A test that panicked while holding the lock must not hide the data from the others.
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Polls `probe` every [`POLL`] until it gives a value, for at most [`WAIT`]; `None` when the
/// time ran out (the caller says what it waited for: `what` only names the wait at the call).
pub async fn eventually<T, F, Fut>(_what: &str, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One SMTP session's handler: mailin-embedded clones the prototype for every connection.
#[derive(Clone)]
struct Session {
    shared: Arc<Mutex<Shared>>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Session {
    fn new(shared: Arc<Mutex<Shared>>) -> Session {
        Session {
            shared,
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        }
    }
}

impl Handler for Session {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        if lock(&self.shared).closed {
            response::NO_SERVICE
        } else {
            response::OK
        }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        let mut shared = lock(&self.shared);
        if shared.closed {
            return response::NO_SERVICE;
        }
        if let Some(code) = shared.script.pop_front() {
            shared.refused.push(Refusal {
                from: from.to_owned(),
                to: to.to_vec(),
                code,
                at: Instant::now(),
            });
            return Response::custom(code, "Refused by the test's script".to_owned());
        }
        self.from = from.to_owned();
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let raw = String::from_utf8_lossy(&std::mem::take(&mut self.data)).into_owned();
        let (headers, body) = parse(&raw);
        let mail = Mail {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            headers,
            body,
            raw,
            at: Instant::now(),
        };
        lock(&self.shared).received.push(mail);
        response::OK
    }
}

// -------------------------------------------------------------------------------- parsing

/// Header fields (decoded) and the text body of a message.
fn parse(raw: &str) -> (Vec<(String, String)>, String) {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
    let headers = parse_headers(head);
    let text = text_of(&headers, body);
    (headers, text)
}

fn parse_headers(head: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut() {
                v.push_str(line);
            }
        } else if let Some((k, v)) = line.split_once(':') {
            fields.push((k.trim().to_owned(), v.to_owned()));
        }
    }
    fields
        .into_iter()
        .map(|(k, v)| (k, decode_words(v.trim())))
        .collect()
}

fn header_of<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The value of parameter `name` of a structured header (`multipart/mixed; boundary="x"`).
fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The text of an entity: its body decoded, or for a multipart the first text/plain part.
fn text_of(headers: &[(String, String)], body: &str) -> String {
    let content_type = header_of(headers, "content-type").unwrap_or("text/plain");
    if content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/")
    {
        let Some(boundary) = parameter(content_type, "boundary") else {
            return body.to_owned();
        };
        let delimiter = format!("--{boundary}");
        let mut texts = Vec::new();
        for part in body.split(&delimiter).skip(1) {
            if part.starts_with("--") {
                break;
            }
            let part = part.strip_prefix('\n').unwrap_or(part);
            let (head, content) = part.split_once("\n\n").unwrap_or(("", part));
            let part_headers = parse_headers(head);
            let part_type = header_of(&part_headers, "content-type")
                .unwrap_or("text/plain")
                .to_ascii_lowercase();
            if part_type.starts_with("multipart/") || part_type.starts_with("text/plain") {
                texts.push(text_of(&part_headers, content.trim_end_matches('\n')));
            }
        }
        return texts.into_iter().next().unwrap_or_default();
    }
    let encoding = header_of(headers, "content-transfer-encoding")
        .unwrap_or("7bit")
        .trim()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = STANDARD.decode(compact).unwrap_or_default();
            String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
        }
        "quoted-printable" => {
            String::from_utf8_lossy(&quoted_printable(body)).replace("\r\n", "\n")
        }
        _ => body.to_owned(),
    }
}

/// Decodes a quoted-printable body (RFC 2045 §6.7): `=XX` octets and `=` soft line breaks
/// (a line ending in `=` continues on the next one).
fn quoted_printable(body: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let lines: Vec<&str> = body.split('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim_end_matches([' ', '\t', '\r']);
        match line.strip_suffix('=') {
            Some(continued) => out.extend(unescape(continued.as_bytes(), b'=')),
            None => {
                out.extend(unescape(line.as_bytes(), b'='));
                if i + 1 < lines.len() {
                    out.push(b'\n');
                }
            }
        }
    }
    out
}

/// `=XX` (or `escape` XX) hex octets decoded; anything else as is.
fn unescape(bytes: &[u8], escape: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == escape
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
            out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Decodes the RFC 2047 encoded-words (`=?charset?B?...?=`, `=?charset?Q?...?=`) of a header
/// value, dropping the white space between adjacent encoded-words. Charsets other than UTF-8 and
/// ASCII are read as UTF-8 (the server under test writes UTF-8).
pub fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut pending_space = String::new();
    let mut last_was_word = false;
    while !rest.is_empty() {
        if let Some((decoded, used)) = encoded_word(rest) {
            if !last_was_word {
                out.push_str(&pending_space);
            }
            pending_space.clear();
            out.push_str(&decoded);
            rest = &rest[used..];
            last_was_word = true;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            pending_space.push(c);
        } else {
            out.push_str(&pending_space);
            pending_space.clear();
            out.push(c);
            last_was_word = false;
        }
        rest = &rest[c.len_utf8()..];
    }
    out.push_str(&pending_space);
    out
}

/// The encoded-word at the start of `s`: its text and the bytes it took.
fn encoded_word(s: &str) -> Option<(String, usize)> {
    let inner = s.strip_prefix("=?")?;
    let (_charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let text = &inner[..end];
    if text.contains(char::is_whitespace) {
        return None;
    }
    let used = s.len() - inner.len() + end + 2;
    let bytes = match encoding {
        "B" | "b" => STANDARD.decode(text).ok()?,
        "Q" | "q" => unescape(text.replace('_', " ").as_bytes(), b'='),
        _ => return None,
    };
    Some((String::from_utf8_lossy(&bytes).into_owned(), used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_encoded_words() {
        assert_eq!(
            decode_words("=?utf-8?b?S2plcm5lam91cm5hbGVuIGRpbiBzbGV0dGVzIHNuYXJ0?="),
            "Kjernejournalen din slettes snart"
        );
        assert_eq!(
            decode_words("=?utf-8?q?Du_har_f=C3=A5tt_en?= =?utf-8?q?_fullmakt?="),
            "Du har fått en fullmakt"
        );
        assert_eq!(decode_words("Plain subject"), "Plain subject");
        assert_eq!(decode_words("Hei =?UTF-8?B?w6bDuMOl?= der"), "Hei æøå der");
    }

    #[test]
    fn parses_quoted_printable_bodies() {
        let raw = "Subject: =?utf-8?b?w6bDuMOl?=\r\nContent-Transfer-Encoding: quoted-printable\r\n\
                   Content-Language: nb\r\n\r\nF=C3=A5 lenken: http://127.0.0.1:1/api/v1/x?token=3D=\r\nabc=\r\ndef\r\nslutt\r\n";
        let (headers, body) = parse(raw);
        assert_eq!(header_of(&headers, "subject"), Some("æøå"));
        assert_eq!(header_of(&headers, "content-language"), Some("nb"));
        assert_eq!(
            body,
            "Få lenken: http://127.0.0.1:1/api/v1/x?token=abcdef\nslutt\n"
        );
    }

    #[test]
    fn parses_base64_and_multipart_bodies() {
        let text = STANDARD.encode("Hei på deg\nhttps://portal.example/x?token=abc\n");
        let raw = format!(
            "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
             {text}\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b1--\r\n"
        );
        let (_, body) = parse(&raw);
        assert_eq!(body, "Hei på deg\nhttps://portal.example/x?token=abc\n");
        let mail = Mail {
            from: String::new(),
            to: vec![],
            headers: vec![],
            body,
            raw: String::new(),
            at: Instant::now(),
        };
        assert_eq!(
            mail.links(),
            vec!["https://portal.example/x?token=abc".to_owned()]
        );
    }

    /// Speaks SMTP to `addr`: EHLO, one transaction, QUIT; the reply code to each command.
    fn transaction(addr: SocketAddr, to: &str, data: &str) -> Vec<u16> {
        use std::io::{BufRead, BufReader, Write};
        let stream = std::net::TcpStream::connect(addr).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut reply = || {
            let mut code = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(code);
                if line.as_bytes().get(3) != Some(&b'-') {
                    return code;
                }
            }
        };
        let mut codes = vec![reply()];
        let say = |w: &mut std::net::TcpStream, line: &str| {
            w.write_all(line.as_bytes()).unwrap();
        };
        for cmd in [
            "EHLO client.test\r\n".to_owned(),
            "MAIL FROM:<no-reply@portal.test>\r\n".to_owned(),
            format!("RCPT TO:<{to}>\r\n"),
            "DATA\r\n".to_owned(),
        ] {
            say(&mut writer, &cmd);
            codes.push(reply());
        }
        if codes.last() == Some(&354) {
            say(&mut writer, data);
            say(&mut writer, ".\r\n");
            codes.push(reply());
        } else {
            say(&mut writer, "RSET\r\n");
            codes.push(reply());
        }
        say(&mut writer, "QUIT\r\n");
        codes.push(reply());
        codes
    }

    #[tokio::test]
    async fn records_messages_and_refuses_as_scripted() {
        let server = MailServer::start();
        assert!(server.url().starts_with("smtp://127.0.0.1:"));
        let addr = server.addr;
        let data =
            "Subject: =?utf-8?b?S2plcm5lam91cm5hbGVu?=\r\nMessage-ID: <n-1@consent-portal>\r\n\
                    Content-Language: nb\r\n\r\nHei\r\n..dot\r\n";
        server.refuse_next(2, 451);
        for _ in 0..2 {
            let codes = tokio::task::spawn_blocking(move || transaction(addr, "a@b.example", data))
                .await
                .unwrap();
            assert_eq!(codes, vec![220, 250, 250, 250, 451, 250, 221]);
        }
        assert_eq!(server.refusals().len(), 2);
        assert_eq!(server.refusals()[0].to, vec!["a@b.example".to_owned()]);
        assert!(server.messages().is_empty());
        let codes = tokio::task::spawn_blocking(move || transaction(addr, "a@b.example", data))
            .await
            .unwrap();
        assert_eq!(codes, vec![220, 250, 250, 250, 354, 250, 221]);
        let got = server.wait_for_to("a@b.example", 1).await;
        assert_eq!(got[0].subject(), "Kjernejournalen");
        assert_eq!(got[0].message_id(), Some("<n-1@consent-portal>"));
        assert_eq!(got[0].content_language(), Some("nb"));
        assert_eq!(got[0].body, "Hei\n.dot\n");
        assert_eq!(got[0].from, "no-reply@portal.test");
        server.stays_at(1).await;

        drop(server);
        let codes = tokio::task::spawn_blocking(move || {
            use std::io::{BufRead, BufReader, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut greeting = String::new();
            r.read_line(&mut greeting).unwrap();
            s.write_all(b"EHLO client.test\r\n").unwrap();
            let mut answer = String::new();
            r.read_line(&mut answer).unwrap();
            answer
        })
        .await
        .unwrap();
        assert!(codes.starts_with("421"), "{codes}");
    }
}
