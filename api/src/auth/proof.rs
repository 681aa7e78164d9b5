//! Signed proofs of representation: JWTs this backend issues to downstream services, verifiable
//! with the key it publishes at `/.well-known/jwks.json`.
//!
//! The key comes from `PROOF_SIGNING_KEY_FILE` (a PKCS#8 PEM P-256 key; every instance of a
//! deployment needs the same one). Without it the server makes a key at start-up and says so in
//! its log: fine for a developer, but proofs then stop verifying after a restart.
//!
//! Signing uses ring rather than jsonwebtoken's `rust_crypto` backend: that one re-reads the PKCS#8
//! key and does two pure-Rust P-256 scalar multiplications per proof (about 400 µs, 17 % of the
//! server's CPU in the representation benchmark, where one request in ten asks for a proof);
//! ring's assembly P-256 signs in a few tens of µs. The JWS compact form is three base64url parts.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::DecodePrivateKey;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::error::ApiError;

pub struct ProofSigner {
    /// The base64url JOSE header (`alg`, `kid`, `typ`), the same for every proof.
    header: String,
    key: EcdsaKeyPair,
    rng: SystemRandom,
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
        let point = secret.public_key().to_encoded_point(false);
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &secret.to_bytes(),
            point.as_bytes(),
            &rng,
        )
        .map_err(|e| format!("signing key: {e}"))?;
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
        let header = serde_json::json!({ "alg": "ES256", "kid": kid, "typ": "JWT" });
        Ok(ProofSigner {
            header: URL_SAFE_NO_PAD.encode(header.to_string()),
            key,
            rng,
            jwk,
        })
    }

    /// A compact JWS (RFC 7515) of `claims`: header, payload and the ES256 signature of both
    /// (R and S, 32 bytes each, as RFC 7518 §3.4 asks).
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, ApiError> {
        let failed = |what: &str| ApiError::Internal(format!("signing a proof: {what}"));
        let payload = serde_json::to_vec(claims).map_err(|e| failed(&e.to_string()))?;
        let mut jws = String::with_capacity(self.header.len() + payload.len() * 4 / 3 + 100);
        jws.push_str(&self.header);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut jws);
        let signature = self
            .key
            .sign(&self.rng, jws.as_bytes())
            .map_err(|_| failed("ECDSA"))?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut jws);
        Ok(jws)
    }

    /// The public key set, for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.jwk] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, decode_header, jwk::Jwk, Algorithm, DecodingKey, Validation};

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Claims {
        sub: String,
        exp: i64,
    }

    #[test]
    fn a_proof_verifies_with_the_published_key_and_not_after_a_change() {
        let config = Config::from_map(&std::collections::HashMap::new()).unwrap();
        let signer = ProofSigner::from_config(&config).unwrap();
        let claims = Claims {
            sub: "citizen-1".into(),
            exp: 4_102_444_800,
        };
        let jws = signer.sign(&claims).unwrap();

        let header = decode_header(&jws).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let jwk: Jwk = serde_json::from_value(signer.jwks()["keys"][0].clone()).unwrap();
        assert_eq!(header.kid, jwk.common.key_id);
        let key = DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_required_spec_claims(&["exp"]);
        let read = decode::<Claims>(&jws, &key, &validation).unwrap();
        assert_eq!(read.claims, claims);

        // A changed payload no longer verifies.
        let mut parts: Vec<&str> = jws.split('.').collect();
        let other = URL_SAFE_NO_PAD.encode(br#"{"sub":"citizen-2","exp":4102444800}"#);
        parts[1] = &other;
        assert!(decode::<Claims>(&parts.join("."), &key, &validation).is_err());
    }
}
