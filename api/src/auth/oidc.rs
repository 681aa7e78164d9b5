//! The OIDC relying party: authorization code flow with PKCE (S256), `state` bound to the browser,
//! `nonce`, and the ID token checked by `openidconnect` (signature from the discovered JWKS,
//! `iss`, `aud`, `exp`, `nonce`). Discovery happens at the first login (and again after a
//! failure), so the server can start before its provider.

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, StandardErrorResponse,
    StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::config::Config;
use crate::error::ApiError;

/// The claims ID-porten adds: `pid`, the national identity number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PidClaims {
    pub pid: Option<String>,
}
impl AdditionalClaims for PidClaims {}

type PidTokenResponse = StandardTokenResponse<
    IdTokenFields<
        PidClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type PortalClient = Client<
    PidClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    PidTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What `/auth/login` must remember for the callback.
pub struct AuthorizationStart {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// What a verified ID token says about the person.
pub struct VerifiedLogin {
    pub pid: Option<String>,
    pub acr: Option<String>,
}

pub struct Oidc {
    config: Config,
    http: reqwest::Client,
    client: Mutex<Option<PortalClient>>,
}

impl Oidc {
    pub fn new(config: &Config, http: reqwest::Client) -> Oidc {
        Oidc {
            config: config.clone(),
            http,
            client: Mutex::new(None),
        }
    }

    async fn client(&self) -> Result<PortalClient, ApiError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let issuer = IssuerUrl::new(
            self.config
                .oidc_issuer
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
        )
        .map_err(|e| ApiError::Internal(format!("OIDC_ISSUER: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| ApiError::Unavailable(format!("OIDC discovery: {e}")))?;
        let redirect = RedirectUrl::new(self.config.redirect_uri())
            .map_err(|e| ApiError::Internal(format!("redirect URI: {e}")))?;
        let client = PortalClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.oidc_client_id.clone()),
            Some(ClientSecret::new(self.config.oidc_client_secret.clone())),
        )
        .set_redirect_uri(redirect);
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Forgets the discovered provider, so the next login discovers it again (after a failure
    /// that may come from rotated keys).
    pub async fn reset(&self) {
        *self.client.lock().await = None;
    }

    pub async fn start(
        &self,
        acr_values: &str,
        login_hint: Option<&str>,
    ) -> Result<AuthorizationStart, ApiError> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .add_extra_param("acr_values", acr_values.to_owned());
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_owned());
        }
        let (url, state, nonce) = request.url();
        Ok(AuthorizationStart {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code and verifies the ID token against `nonce`.
    pub async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<VerifiedLogin, ApiError> {
        let client = self.client().await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| ApiError::Internal(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| ApiError::LoginFailed(format!("code exchange: {e}")))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| ApiError::LoginFailed("no ID token".into()))?;
        let verifier = client.id_token_verifier();
        let claims = match id_token.claims(&verifier, &Nonce::new(nonce.to_owned())) {
            Ok(c) => c,
            Err(e) => {
                // Keys may have rotated: discover again next time.
                self.reset().await;
                return Err(ApiError::LoginFailed(format!("ID token: {e}")));
            }
        };
        Ok(VerifiedLogin {
            pid: claims.additional_claims().pid.clone(),
            acr: claims.auth_context_ref().map(|a| a.as_str().to_owned()),
        })
    }
}
