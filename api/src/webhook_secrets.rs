//! Webhook signing secrets at rest. The worker signs each delivery with its endpoint's secret
//! (HMAC-SHA256), so the secret itself must be kept, not a hash of it. With
//! `WEBHOOK_SECRET_KEY_FILE` set it is stored sealed (AES-256-GCM, ring), bound to its endpoint's
//! id, so that a copy of the database (a backup, a reporting replica, a read-only role) does not
//! let anyone forge deliveries to the receivers. Without the key (development) secrets are stored
//! as issued, and a server outside dev mode says so at start-up.
//!
//! At start-up ([`Sealer::prepare`]) a server with the key seals the secrets stored as issued
//! (endpoints registered before the key was set) and checks that every sealed one opens; a server
//! that cannot open them (no key, or another key) refuses to start rather than fail each delivery.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

use crate::config::Config;
use crate::error::ApiError;
use persistence::{webhooks as store, Db};

/// How a sealed secret starts; a secret as issued starts with `whsec_`.
const SEALED: &str = "sealed:v1:";

pub struct Sealer {
    key: Option<LessSafeKey>,
    rng: SystemRandom,
}

impl Sealer {
    pub fn from_config(config: &Config) -> Result<Sealer, String> {
        let Some(path) = &config.webhook_secret_key_file else {
            return Ok(Sealer::without_key());
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "WEBHOOK_SECRET_KEY_FILE cannot be read ({}): {e}",
                path.display()
            )
        })?;
        // Never repeat the file's content in a message.
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| "WEBHOOK_SECRET_KEY_FILE is not base64".to_owned())?;
        Sealer::with_key(&bytes)
    }

    /// A sealer with `key` (32 bytes).
    pub fn with_key(key: &[u8]) -> Result<Sealer, String> {
        let key = UnboundKey::new(&AES_256_GCM, key)
            .map_err(|_| "WEBHOOK_SECRET_KEY_FILE must hold 32 bytes (base64)".to_owned())?;
        Ok(Sealer {
            key: Some(LessSafeKey::new(key)),
            rng: SystemRandom::new(),
        })
    }

    /// A sealer without a key: secrets are stored as issued.
    pub fn without_key() -> Sealer {
        Sealer {
            key: None,
            rng: SystemRandom::new(),
        }
    }

    /// What to store for endpoint `endpoint_id`'s `secret`: sealed with the key, or as issued
    /// without one.
    pub fn seal(&self, endpoint_id: &str, secret: &str) -> Result<String, ApiError> {
        let Some(key) = &self.key else {
            return Ok(secret.to_owned());
        };
        // A random nonce per secret: endpoints are few, far below the 2^32 seals a random 96-bit
        // nonce allows under one key.
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| ApiError::Internal("no randomness for a webhook secret".into()))?;
        let mut sealed = secret.as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(endpoint_id.as_bytes()),
            &mut sealed,
        )
        .map_err(|_| ApiError::Internal("a webhook secret could not be sealed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{SEALED}{}", STANDARD.encode(out)))
    }

    /// Endpoint `endpoint_id`'s secret from what is stored. A secret stored as issued is
    /// returned as it is; a sealed one needs the key that sealed it, for this endpoint.
    pub fn open(&self, endpoint_id: &str, stored: &str) -> Result<String, ApiError> {
        let Some(sealed) = stored.strip_prefix(SEALED) else {
            return Ok(stored.to_owned());
        };
        let unusable = || {
            ApiError::Internal(format!(
                "webhook endpoint {endpoint_id}: its secret does not open with this server's key"
            ))
        };
        let key = self.key.as_ref().ok_or_else(unusable)?;
        let bytes = STANDARD.decode(sealed).map_err(|_| unusable())?;
        if bytes.len() < NONCE_LEN {
            return Err(unusable());
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unusable())?;
        let mut in_out = rest.to_vec();
        let clear = key
            .open_in_place(nonce, Aad::from(endpoint_id.as_bytes()), &mut in_out)
            .map_err(|_| unusable())?;
        String::from_utf8(clear.to_vec()).map_err(|_| unusable())
    }

    /// The start-up pass: with the key, seals every secret stored as issued and checks that every
    /// sealed one opens; without it, refuses sealed secrets. Safe on several instances at once (a
    /// secret is replaced only if it is still the one read).
    pub fn prepare(&self, db: &Db, dev_mode: bool) -> Result<(), String> {
        let stored = db
            .transaction(|conn| Ok::<_, ApiError>(store::stored_secrets(conn)?))
            .map_err(|e| format!("webhook secrets cannot be read: {e}"))?;
        if self.key.is_none() {
            if stored.iter().any(|(_, s)| s.starts_with(SEALED)) {
                return Err(
                    "webhook secrets are stored sealed: set WEBHOOK_SECRET_KEY_FILE to \
                            the key that sealed them"
                        .into(),
                );
            }
            if !dev_mode {
                tracing::warn!(
                    "WEBHOOK_SECRET_KEY_FILE is not set: webhook signing secrets are stored \
                     unsealed"
                );
            }
            return Ok(());
        }
        let mut sealed = 0;
        for (id, secret) in stored {
            let clear = self.open(&id, &secret).map_err(|_| {
                format!(
                    "the secret of webhook endpoint {id} does not open with \
                     WEBHOOK_SECRET_KEY_FILE: is it the key that sealed it?"
                )
            })?;
            if secret.starts_with(SEALED) {
                continue;
            }
            let new = self.seal(&id, &clear).map_err(|e| e.to_string())?;
            let replaced = db
                .transaction(|conn| {
                    Ok::<_, ApiError>(store::replace_secret(conn, &id, &secret, &new)?)
                })
                .map_err(|e| format!("webhook secrets cannot be sealed: {e}"))?;
            sealed += usize::from(replaced);
        }
        if sealed > 0 {
            tracing::info!(sealed, "webhook secrets stored as issued are now sealed");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch_db::ScratchDb;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn sealer(byte: u8) -> Sealer {
        Sealer::with_key(&[byte; 32]).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_for_its_endpoint_only_and_with_its_key_only() {
        let s = sealer(7);
        let stored = s.seal("endpoint-a", SECRET).unwrap();
        assert!(stored.starts_with(SEALED));
        assert!(!stored.contains(SECRET.trim_start_matches("whsec_")));
        assert_eq!(s.open("endpoint-a", &stored).unwrap(), SECRET);
        assert!(
            s.open("endpoint-b", &stored).is_err(),
            "bound to its endpoint"
        );
        assert!(
            sealer(8).open("endpoint-a", &stored).is_err(),
            "another key"
        );
        assert!(
            Sealer::without_key().open("endpoint-a", &stored).is_err(),
            "no key"
        );
    }

    #[test]
    fn each_seal_differs_and_a_changed_byte_is_refused() {
        let s = sealer(7);
        let a = s.seal("e", SECRET).unwrap();
        let b = s.seal("e", SECRET).unwrap();
        assert_ne!(a, b, "a fresh nonce each time");
        let mut bytes = STANDARD.decode(&a[SEALED.len()..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("{SEALED}{}", STANDARD.encode(bytes));
        assert!(s.open("e", &tampered).is_err());
        assert!(s.open("e", &format!("{SEALED}!!")).is_err(), "not base64");
        assert!(s.open("e", &format!("{SEALED}AAAA")).is_err(), "too short");
    }

    #[test]
    fn without_a_key_secrets_are_kept_as_issued() {
        let s = Sealer::without_key();
        assert_eq!(s.seal("e", SECRET).unwrap(), SECRET);
        assert_eq!(s.open("e", SECRET).unwrap(), SECRET);
        // A secret stored as issued still opens once a key is set.
        assert_eq!(sealer(7).open("e", SECRET).unwrap(), SECRET);
    }

    fn scratch_with_endpoint(id: &str, stored: &str) -> ScratchDb {
        let scratch = ScratchDb::migrated("webhook-secrets");
        scratch
            .db
            .transaction(|conn| {
                store::insert_endpoint(
                    conn,
                    &store::Endpoint {
                        id: id.to_owned(),
                        client_id: "client".into(),
                        url: "https://receiver.example/hook".into(),
                        event_types: vec![],
                        secret: stored.to_owned(),
                        created_at: chrono::Utc::now(),
                        fanned_out_to: 0,
                        disabled_at: None,
                        disabled_reason: None,
                    },
                )
            })
            .expect("insert");
        scratch
    }

    fn stored(db: &Db) -> String {
        db.transaction(store::stored_secrets)
            .expect("read")
            .pop()
            .expect("one endpoint")
            .1
    }

    #[test]
    fn start_up_seals_secrets_stored_as_issued_and_refuses_what_it_cannot_open() {
        let scratch = scratch_with_endpoint("e1", SECRET);
        // Without a key, a secret stored as issued is left alone.
        Sealer::without_key().prepare(&scratch.db, false).unwrap();
        assert_eq!(stored(&scratch.db), SECRET);
        // With a key, it is sealed, and opens to the same secret.
        sealer(7).prepare(&scratch.db, false).unwrap();
        let sealed = stored(&scratch.db);
        assert!(sealed.starts_with(SEALED), "{sealed}");
        assert_eq!(sealer(7).open("e1", &sealed).unwrap(), SECRET);
        // Again: nothing left to seal, the sealed one still opens.
        sealer(7).prepare(&scratch.db, false).unwrap();
        assert_eq!(stored(&scratch.db), sealed);
        // Without the key, or with another, the server refuses to start.
        let no_key = Sealer::without_key()
            .prepare(&scratch.db, true)
            .unwrap_err();
        assert!(no_key.contains("WEBHOOK_SECRET_KEY_FILE"), "{no_key}");
        let other = sealer(8).prepare(&scratch.db, false).unwrap_err();
        assert!(other.contains("e1"), "{other}");
        assert!(!other.contains(SECRET), "{other}");
        assert_eq!(stored(&scratch.db), sealed, "nothing changed");
    }

    #[test]
    fn a_key_must_be_32_bytes() {
        assert!(Sealer::with_key(&[1; 31]).is_err());
        assert!(Sealer::with_key(&[1; 33]).is_err());
        assert!(Sealer::with_key(&[1; 32]).is_ok());
    }
}
