//! The end user's context: a JWT the consuming system sends with each call, verified
//! against the configured issuers (specs/user-context.md).
//!
//! The verification itself (issuer by `iss`, pinned algorithms, key family, `kid`,
//! signature, `aud`, `exp`/`nbf` with leeway) is [`crate::jws`], shared with the
//! citizen's login token; its security reasoning is written there. This module reads the
//! user-context claims from a verified token.
//!
//! Errors name the check that failed and never contain the token or its claims.

use http::HeaderMap;
use serde_json::Value;

use crate::config::ConsentConfig;
use crate::jws::{bearer_token, optional_str, required_str, IssuerSet};

/// Claim names (specs/user-context.md). `sub` and `iss`, `aud`, `exp`, `nbf`, `jti`
/// are the registered JWT claims (RFC 7519 §4.1).
pub mod claims {
    pub const USER: &str = "sub";
    pub const CARE_UNIT: &str = "care_unit";
    pub const CARE_GIVER: &str = "care_giver";
    pub const PURPOSE: &str = "purpose";
    pub const EMERGENCY_REASON: &str = "emergency_reason";
    pub const ROLES: &str = "roles";
    pub const TOKEN_ID: &str = "jti";
    pub const USER_ROLE: &str = "user_role";
}

/// Who is asking, as asserted by a trusted issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserContext {
    /// HSA id of the end user (`sub`).
    pub user_hsa_id: String,
    /// HSA id of the care unit (vårdenhet) the user works for now (`care_unit`).
    pub care_unit_hsa_id: String,
    /// HSA id of the care giver (vårdgivare) the unit belongs to (`care_giver`).
    pub care_giver_hsa_id: String,
    /// Why the user reads (`purpose`, e.g. `care`); written to the access log.
    pub purpose: String,
    /// Set when the user declares an emergency (nödåtkomst, PDL 6:4), with the reason.
    pub emergency_reason: Option<String>,
    /// Roles (`roles`), e.g. `consent-admin` for the admin API.
    pub roles: Vec<String>,
    /// The token's `jti` (not written to the access log).
    pub token_id: Option<String>,
    /// The user's role as the issuer states it (`user_role`, e.g. `Läkare`): written to
    /// the access log entries, shown in the patient's log extract.
    pub user_role: Option<String>,
}

impl UserContext {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Why a user context was refused. The variant names the failed check; the text says
/// what to do and never echoes the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    #[error("no user context: send the end user's JWT in the user-context header or as Authorization: Bearer")]
    Missing,
    #[error("the user context is not a well-formed JWT: {0}")]
    Malformed(&'static str),
    #[error("the user context signature does not verify with the issuer's key")]
    BadSignature,
    #[error("the user context algorithm `{0}` is not accepted for this issuer (or does not match the key's type)")]
    WrongAlgorithm(String),
    #[error(
        "the user context names a key id (kid) the issuer does not have: refresh the issuer's JWKS"
    )]
    UnknownKid,
    #[error("the user context has no key id (kid) and the issuer has several keys")]
    MissingKid,
    #[error("the user context has expired (exp)")]
    Expired,
    #[error("the user context is not valid yet (nbf)")]
    NotYetValid,
    #[error("the user context issuer (iss) is not a configured issuer")]
    WrongIssuer,
    #[error("the user context audience (aud) does not name this gateway")]
    WrongAudience,
    #[error("the user context lacks the claim `{0}`")]
    MissingClaim(&'static str),
    #[error("the user context claim `{0}` has the wrong type or is empty")]
    InvalidClaim(&'static str),
}

impl JwtError {
    /// A stable name of the failed check (logs, metrics, the admin API's 401 body).
    pub fn check(&self) -> &'static str {
        match self {
            JwtError::Missing => "missing",
            JwtError::Malformed(_) => "malformed",
            JwtError::BadSignature => "bad-signature",
            JwtError::WrongAlgorithm(_) => "wrong-algorithm",
            JwtError::UnknownKid => "unknown-kid",
            JwtError::MissingKid => "missing-kid",
            JwtError::Expired => "expired",
            JwtError::NotYetValid => "not-yet-valid",
            JwtError::WrongIssuer => "wrong-issuer",
            JwtError::WrongAudience => "wrong-audience",
            JwtError::MissingClaim(_) => "missing-claim",
            JwtError::InvalidClaim(_) => "invalid-claim",
        }
    }
}

pub use crate::jws::KeyLoadError;

/// Verifies user-context tokens against the configured issuers. Immutable: reload by
/// building a new one ([`Verifier::from_config`]) and swapping it in.
#[derive(Debug)]
pub struct Verifier {
    header: http::HeaderName,
    issuers: IssuerSet,
}

impl Verifier {
    /// Read every issuer's key files.
    pub fn from_config(config: &ConsentConfig) -> Result<Verifier, KeyLoadError> {
        Ok(Verifier {
            header: config.header.clone(),
            issuers: IssuerSet::load("consent", &config.issuers)?,
        })
    }

    /// The raw token from the request: the configured user-context header wins over
    /// `Authorization: Bearer` (an intermediary may use Authorization for itself; the
    /// dedicated header is only ever the end user's context).
    pub fn token_from_headers<'h>(&self, headers: &'h HeaderMap) -> Result<&'h str, JwtError> {
        if let Some(v) = headers.get(&self.header) {
            let s = v
                .to_str()
                .map_err(|_| JwtError::Malformed("header is not ASCII"))?;
            return Ok(s.trim());
        }
        bearer_token(headers)
    }

    /// Verify the token in `headers` at `now` (Unix seconds).
    pub fn verify_headers(&self, headers: &HeaderMap, now: i64) -> Result<UserContext, JwtError> {
        self.verify(self.token_from_headers(headers)?, now)
    }

    /// Verify a token at `now` (Unix seconds) and read the user context from it.
    pub fn verify(&self, token: &str, now: i64) -> Result<UserContext, JwtError> {
        let c = self.issuers.verify(token, now)?.claims;
        let roles = match c.get(claims::ROLES) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|r| r.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or(JwtError::InvalidClaim(claims::ROLES))?,
            Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
            Some(_) => return Err(JwtError::InvalidClaim(claims::ROLES)),
        };
        Ok(UserContext {
            user_hsa_id: required_str(&c, claims::USER)?,
            care_unit_hsa_id: required_str(&c, claims::CARE_UNIT)?,
            care_giver_hsa_id: required_str(&c, claims::CARE_GIVER)?,
            purpose: required_str(&c, claims::PURPOSE)?,
            emergency_reason: optional_str(&c, claims::EMERGENCY_REASON)?,
            roles,
            token_id: optional_str(&c, claims::TOKEN_ID)?,
            user_role: optional_str(&c, claims::USER_ROLE)?,
        })
    }
}

impl From<JwtError> for vaxel_model::Fault {
    /// VX001: the SOAP fault names the failed check (e.g. `expired`):
    /// `VX001 [instance-id] user context refused (<check>): <message>`.
    fn from(e: JwtError) -> Self {
        vaxel_model::Fault::UserContext {
            check: e.check(),
            cause: vaxel_model::Cause::new(e),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{IssuerConfig, IssuerKeys};
    use base64::Engine as _;
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::json;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    pub(crate) const NOW: i64 = 1_750_000_000;
    pub(crate) const ISS: &str = "https://idp.example";

    /// A fresh ECDSA P-256 key pair: (PKCS#8 private PEM, SPKI public PEM).
    pub(crate) fn ec_pair() -> (String, String) {
        let kp = rcgen::KeyPair::generate().unwrap();
        (kp.serialize_pem(), kp.public_key_pem())
    }

    /// An RSA pair from the openssl CLI, or `None` (with the reason printed).
    fn rsa_pair(dir: &Path) -> Option<(String, String)> {
        let key = dir.join("rsa.key");
        let ok = std::process::Command::new("openssl")
            .args(["genrsa", "-out"])
            .arg(&key)
            .arg("2048")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("skipping RSA cases: the openssl CLI is not available");
            return None;
        }
        let out = std::process::Command::new("openssl")
            .args(["rsa", "-pubout", "-in"])
            .arg(&key)
            .output()
            .ok()?;
        Some((
            std::fs::read_to_string(&key).unwrap(),
            String::from_utf8(out.stdout).unwrap(),
        ))
    }

    pub(crate) fn claims() -> Value {
        json!({
            "iss": ISS, "aud": "vaxel", "sub": "SE2321000016-U1",
            "care_unit": "SE2321000016-CU1", "care_giver": "SE2321000016-CG1",
            "purpose": "care", "roles": ["consent-admin"], "jti": "t-1",
            "exp": NOW + 300, "nbf": NOW - 10,
        })
    }

    pub(crate) fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, c: &Value) -> String {
        let mut h = Header::new(alg);
        h.kid = kid.map(str::to_string);
        jsonwebtoken::encode(&h, c, key).unwrap()
    }

    pub(crate) fn issuer(alg: &str, keys: IssuerKeys) -> IssuerConfig {
        IssuerConfig {
            issuer: ISS.into(),
            audience: vec!["vaxel".into()],
            algorithms: vec![alg.parse().unwrap()],
            keys,
            leeway: Duration::from_secs(60),
        }
    }

    pub(crate) fn verifier(issuers: Vec<IssuerConfig>) -> Verifier {
        Verifier::from_config(&ConsentConfig {
            enabled: true,
            issuers,
            ..ConsentConfig::default()
        })
        .unwrap()
    }

    pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// An ES256 issuer with a PEM key; returns the verifier and the signing key.
    pub(crate) fn es256(dir: &Path) -> (Verifier, EncodingKey) {
        let (private, public) = ec_pair();
        let pem = write(dir, "ec.pub.pem", &public);
        let v = verifier(vec![issuer(
            "ES256",
            IssuerKeys::Public {
                pem: Some(pem),
                pem_kid: None,
                jwks: None,
            },
        )]);
        (v, EncodingKey::from_ec_pem(private.as_bytes()).unwrap())
    }

    #[test]
    fn es256_token_gives_the_user_context() {
        let dir = tempfile::tempdir().unwrap();
        let (v, key) = es256(dir.path());
        let mut c = claims();
        c["emergency_reason"] = json!("unconscious patient");
        c["user_role"] = json!("Läkare");
        let u = v
            .verify(&sign(Algorithm::ES256, None, &key, &c), NOW)
            .unwrap();
        assert_eq!(
            u,
            UserContext {
                user_hsa_id: "SE2321000016-U1".into(),
                care_unit_hsa_id: "SE2321000016-CU1".into(),
                care_giver_hsa_id: "SE2321000016-CG1".into(),
                purpose: "care".into(),
                emergency_reason: Some("unconscious patient".into()),
                roles: vec!["consent-admin".into()],
                token_id: Some("t-1".into()),
                user_role: Some("Läkare".into()),
            }
        );
    }

    #[test]
    fn negative_cases_name_the_failed_check() {
        let dir = tempfile::tempdir().unwrap();
        let (v, key) = es256(dir.path());
        let (other_private, _) = ec_pair();
        let other = EncodingKey::from_ec_pem(other_private.as_bytes()).unwrap();
        let with = |f: &dyn Fn(&mut Value)| {
            let mut c = claims();
            f(&mut c);
            sign(Algorithm::ES256, None, &key, &c)
        };
        let good = with(&|_| {});
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        // Tampered payload: the original signature over different claims.
        let parts: Vec<&str> = good.split('.').collect();
        let mut evil = claims();
        evil["care_giver"] = json!("SE2321000016-EVIL");
        let tampered = format!("{}.{}.{}", parts[0], b64(&evil), parts[2]);
        let alg_none = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&claims())
        );
        let cases: Vec<(&str, String, i64, JwtError)> = vec![
            (
                "expired",
                with(&|c| c["exp"] = json!(NOW - 61)),
                NOW,
                JwtError::Expired,
            ),
            (
                "exp at the leeway edge",
                with(&|c| c["exp"] = json!(NOW - 60)),
                NOW,
                JwtError::Expired,
            ),
            (
                "nbf in the future",
                with(&|c| c["nbf"] = json!(NOW + 61)),
                NOW,
                JwtError::NotYetValid,
            ),
            (
                "wrong key",
                sign(Algorithm::ES256, None, &other, &claims()),
                NOW,
                JwtError::BadSignature,
            ),
            (
                "wrong audience",
                with(&|c| c["aud"] = json!("someone-else")),
                NOW,
                JwtError::WrongAudience,
            ),
            (
                "no audience",
                with(&|c| {
                    c.as_object_mut().unwrap().remove("aud");
                }),
                NOW,
                JwtError::MissingClaim("aud"),
            ),
            (
                "wrong issuer",
                with(&|c| c["iss"] = json!("https://evil")),
                NOW,
                JwtError::WrongIssuer,
            ),
            (
                "no exp",
                with(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
                NOW,
                JwtError::MissingClaim("exp"),
            ),
            (
                "no care giver",
                with(&|c| {
                    c.as_object_mut().unwrap().remove("care_giver");
                }),
                NOW,
                JwtError::MissingClaim("care_giver"),
            ),
            (
                "empty purpose",
                with(&|c| c["purpose"] = json!(" ")),
                NOW,
                JwtError::InvalidClaim("purpose"),
            ),
            (
                "alg none",
                alg_none,
                NOW,
                JwtError::WrongAlgorithm("none".into()),
            ),
            (
                "kid unknown",
                sign(Algorithm::ES256, Some("k9"), &key, &claims()),
                NOW,
                JwtError::UnknownKid,
            ),
            ("tampered payload", tampered, NOW, JwtError::BadSignature),
            (
                "not a jwt",
                "abc".into(),
                NOW,
                JwtError::Malformed("not three dot-separated parts"),
            ),
            (
                "empty user role",
                with(&|c| c["user_role"] = json!("")),
                NOW,
                JwtError::InvalidClaim("user_role"),
            ),
            ("empty", String::new(), NOW, JwtError::Missing),
        ];
        for (name, token, now, want) in cases {
            let got = v.verify(&token, now).unwrap_err();
            assert_eq!(got, want, "{name}");
            let msg = got.to_string();
            assert!(!token.is_empty() || msg.contains("JWT"));
            assert!(
                token.len() < 8 || !msg.contains(&token[..8]),
                "{name}: message echoes the token"
            );
        }
        // Skew within the leeway is accepted on both ends.
        assert!(v
            .verify(&with(&|c| c["exp"] = json!(NOW - 59)), NOW)
            .is_ok());
        assert!(v
            .verify(&with(&|c| c["nbf"] = json!(NOW + 60)), NOW)
            .is_ok());
    }

    #[test]
    fn rsa_issuer_rejects_an_hs256_token_signed_with_its_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let Some((private, public)) = rsa_pair(dir.path()) else {
            return;
        };
        let pem = write(dir.path(), "rsa.pub.pem", &public);
        let v = verifier(vec![issuer(
            "RS256",
            IssuerKeys::Public {
                pem: Some(pem),
                pem_kid: Some("r1".into()),
                jwks: None,
            },
        )]);
        let key = EncodingKey::from_rsa_pem(private.as_bytes()).unwrap();
        assert!(v
            .verify(&sign(Algorithm::RS256, Some("r1"), &key, &claims()), NOW)
            .is_ok());
        // Algorithm confusion: HS256 keyed with the public key bytes the verifier holds.
        let confused = sign(
            Algorithm::HS256,
            Some("r1"),
            &EncodingKey::from_secret(public.as_bytes()),
            &claims(),
        );
        assert_eq!(
            v.verify(&confused, NOW).unwrap_err(),
            JwtError::WrongAlgorithm("HS256".into())
        );
        // An RS384 token is refused when only RS256 is pinned.
        assert_eq!(
            v.verify(&sign(Algorithm::RS384, Some("r1"), &key, &claims()), NOW)
                .unwrap_err(),
            JwtError::WrongAlgorithm("RS384".into())
        );
    }

    #[test]
    fn jwks_rotation_selects_the_key_by_kid() {
        let dir = tempfile::tempdir().unwrap();
        let (p1, _) = ec_pair();
        let (p2, _) = ec_pair();
        let k1 = EncodingKey::from_ec_pem(p1.as_bytes()).unwrap();
        let k2 = EncodingKey::from_ec_pem(p2.as_bytes()).unwrap();
        let mut j1 = jsonwebtoken::jwk::Jwk::from_encoding_key(&k1, Algorithm::ES256).unwrap();
        j1.common.key_id = Some("old".into());
        let mut j2 = jsonwebtoken::jwk::Jwk::from_encoding_key(&k2, Algorithm::ES256).unwrap();
        j2.common.key_id = Some("new".into());
        let set = JwkSet { keys: vec![j1, j2] };
        let jwks = write(
            dir.path(),
            "jwks.json",
            &serde_json::to_string(&set).unwrap(),
        );
        let v = verifier(vec![issuer(
            "ES256",
            IssuerKeys::Public {
                pem: None,
                pem_kid: None,
                jwks: Some(jwks),
            },
        )]);
        assert!(v
            .verify(&sign(Algorithm::ES256, Some("old"), &k1, &claims()), NOW)
            .is_ok());
        assert!(v
            .verify(&sign(Algorithm::ES256, Some("new"), &k2, &claims()), NOW)
            .is_ok());
        // The right key under the wrong kid does not verify.
        assert_eq!(
            v.verify(&sign(Algorithm::ES256, Some("new"), &k1, &claims()), NOW)
                .unwrap_err(),
            JwtError::BadSignature
        );
        assert_eq!(
            v.verify(&sign(Algorithm::ES256, None, &k1, &claims()), NOW)
                .unwrap_err(),
            JwtError::MissingKid
        );
        assert_eq!(
            v.verify(&sign(Algorithm::ES256, Some("gone"), &k1, &claims()), NOW)
                .unwrap_err(),
            JwtError::UnknownKid
        );
    }

    #[test]
    fn hs256_only_with_an_explicit_secret_of_32_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let secret = "0123456789abcdef0123456789abcdef";
        let file = write(dir.path(), "secret", &format!("{secret}\n"));
        let v = verifier(vec![issuer("HS256", IssuerKeys::HmacSecret(file))]);
        let good = sign(
            Algorithm::HS256,
            None,
            &EncodingKey::from_secret(secret.as_bytes()),
            &claims(),
        );
        assert!(v.verify(&good, NOW).is_ok());
        let short = write(dir.path(), "short", "too-short");
        let err = Verifier::from_config(&ConsentConfig {
            issuers: vec![issuer("HS256", IssuerKeys::HmacSecret(short))],
            ..ConsentConfig::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    }

    #[test]
    fn dedicated_header_wins_over_bearer() {
        let dir = tempfile::tempdir().unwrap();
        let (v, key) = es256(dir.path());
        let good = sign(Algorithm::ES256, None, &key, &claims());
        let mut h = HeaderMap::new();
        assert_eq!(v.verify_headers(&h, NOW).unwrap_err(), JwtError::Missing);
        h.insert("authorization", format!("Bearer {good}").parse().unwrap());
        assert!(v.verify_headers(&h, NOW).is_ok());
        h.insert("x-vaxel-user-context", "garbage".parse().unwrap());
        assert_eq!(v.verify_headers(&h, NOW).unwrap_err().check(), "malformed");
        h.insert("x-vaxel-user-context", good.parse().unwrap());
        h.insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
        assert!(v.verify_headers(&h, NOW).is_ok());
        h.remove("x-vaxel-user-context");
        assert_eq!(v.verify_headers(&h, NOW).unwrap_err().check(), "malformed");
    }
}
