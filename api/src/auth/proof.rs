//! Signed proofs of representation: JWTs this backend issues to downstream services, verifiable
//! with the key it publishes at `/.well-known/jwks.json`.
//!
//! The key comes from `PROOF_SIGNING_KEY_FILE` (a PKCS#8 PEM P-256 key; every instance of a
//! deployment needs the same one). Without it the server makes a key at start-up and says so in
//! its log: fine for a developer, but proofs then stop verifying after a restart.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::error::ApiError;

pub struct ProofSigner {
    kid: String,
    key: EncodingKey,
    jwk: serde_json::Value,
}

impl ProofSigner {
    pub fn from_config(config: &Config) -> Result<ProofSigner, String> {
        let secret = match &config.proof_signing_key_file {
            Some(path) => {
                let pem = std::fs::read_to_string(path).map_err(|e| {
                    format!(
                        "PROOF_SIGNING_KEY_FILE cannot be read ({}): {e}",
                        path.display()
                    )
                })?;
                p256::SecretKey::from_pkcs8_pem(&pem).map_err(|_| {
                    "PROOF_SIGNING_KEY_FILE is not a PKCS#8 PEM P-256 key".to_owned()
                })?
            }
            None => {
                tracing::warn!(
                    "PROOF_SIGNING_KEY_FILE is not set: signing proofs with a key made at start-up"
                );
                p256::SecretKey::random(&mut rand::rngs::OsRng)
            }
        };
        let pem = secret
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| format!("signing key: {e}"))?;
        let key =
            EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| format!("signing key: {e}"))?;
        let point = secret.public_key().to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err("signing key: no public point".into());
        };
        let x = URL_SAFE_NO_PAD.encode(x);
        let y = URL_SAFE_NO_PAD.encode(y);
        // The RFC 7638 thumbprint of the public key names it.
        let thumbprint_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint_input.as_bytes()));
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "kid": kid, "alg": "ES256", "use": "sig",
        });
        Ok(ProofSigner { kid, key, jwk })
    }

    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, ApiError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        encode(&header, claims, &self.key)
            .map_err(|e| ApiError::Internal(format!("signing a proof: {e}")))
    }

    /// The public key set, for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.jwk] })
    }
}
