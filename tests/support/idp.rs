//! The dev OIDC provider, started once per test binary. It exits when the test binary does:
//! it runs with `--exit-with-stdin`, and the pipe to its stdin closes with this process.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

pub struct Idp {
    pub issuer: String,
    // Held so the provider lives as long as the tests.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

static IDP: OnceLock<Idp> = OnceLock::new();

impl Idp {
    pub fn shared() -> &'static Idp {
        IDP.get_or_init(Idp::start)
    }

    fn start() -> Idp {
        let dir = crate::workspace_root().join("dev/idp");
        assert!(
            dir.join("node_modules").is_dir(),
            "dev/idp/node_modules is missing: run ./scripts/test (or scripts/idp-deps) first"
        );
        let mut child = Command::new("node")
            .arg("server.js")
            .arg("--exit-with-stdin")
            .current_dir(&dir)
            .env("IDP_PORT", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts dev/idp/server.js");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the provider prints its ready line");
        let issuer = line
            .trim()
            .strip_prefix("IDP_READY ")
            .unwrap_or_else(|| panic!("unexpected first line from dev/idp: {line:?}"))
            .to_owned();
        let stdin = child.stdin.take().expect("piped stdin");
        Idp {
            issuer,
            _stdin: Mutex::new(stdin),
            _child: Mutex::new(child),
        }
    }

    fn http() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// Registers a client whose one redirect URI is `redirect_uri`; returns (id, secret).
    pub async fn register_client(&self, redirect_uri: &str) -> (String, String) {
        let res: serde_json::Value = Idp::http()
            .post(format!("{}/reg", self.issuer))
            .json(&serde_json::json!({
                "redirect_uris": [redirect_uri],
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "id_token_signed_response_alg": "ES256",
            }))
            .send()
            .await
            .expect("registration request")
            .error_for_status()
            .expect("registration accepted")
            .json()
            .await
            .expect("registration JSON");
        (
            res["client_id"].as_str().expect("client_id").to_owned(),
            res["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_owned(),
        )
    }

    /// A client-credentials access token for one of the dev service clients
    /// (`dev-service-reader`, ...; the secret is `<id>-secret`). `scope` may be empty.
    pub async fn service_token(&self, client_id: &str, scope: &str) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        if !scope.is_empty() {
            form.push(("scope", scope));
        }
        let res: serde_json::Value = Idp::http()
            .post(format!("{}/token", self.issuer))
            .basic_auth(client_id, Some(format!("{client_id}-secret")))
            .form(&form)
            .send()
            .await
            .expect("token request")
            .error_for_status()
            .expect("token issued")
            .json()
            .await
            .expect("token JSON");
        res["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Follows the provider's redirects from `authorize_url` (GET only, with a fresh cookie jar,
    /// as a browser with no provider session would) until the redirect back to `callback_prefix`.
    pub async fn follow_to_callback(&self, authorize_url: &str, callback_prefix: &str) -> String {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .expect("client");
        let mut url = url::Url::parse(authorize_url).expect("authorize URL");
        for _ in 0..10 {
            let res = client
                .get(url.clone())
                .send()
                .await
                .expect("provider answers");
            let status = res.status();
            let location = res
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let Some(location) = location else {
                panic!("the provider stopped redirecting with {status}");
            };
            let next = url.join(&location).expect("location is a URL");
            if next.as_str().starts_with(callback_prefix) {
                return next.to_string();
            }
            url = next;
        }
        panic!("too many redirects at the provider");
    }
}
