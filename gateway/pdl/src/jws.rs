//! Trusted token issuers, shared by the two kinds of end-user token vaxel verifies: the
//! care staff's user context ([`crate::consent::jwt`]) and the citizen's login
//! ([`crate::citizen::identity`]). Both follow specs/user-context.md "Verification";
//! each reads its own claims from what [`IssuerSet::verify`] has verified.
//!
//! Signature checks are done by `jsonwebtoken`; what it does not do the way PDL access
//! control needs it is done here, before or after it:
//! - the issuer entry is chosen by the token's (unverified) `iss`, then everything is
//!   verified with that issuer's keys only;
//! - the algorithm is pinned per issuer and MUST match the selected key's type: an HS*
//!   token is never checked with an RSA/EC public key (algorithm confusion), and `none`
//!   never parses as an algorithm at all;
//! - a token `kid` selects the key (rotation); an unknown `kid` is an error, not a
//!   fall-back to "try every key";
//! - `exp` is required, `exp`/`nbf` are checked against an injected clock with the
//!   issuer's bounded leeway, so tests are exact.
//!
//! Errors name the check that failed and never contain the token or its claims.

use std::path::Path;

use base64::Engine as _;
use http::HeaderMap;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::config::{IssuerConfig, IssuerKeys};
use crate::consent::jwt::JwtError;

/// A key file could not be used (at start or reload).
#[derive(Debug, thiserror::Error)]
#[error("[[{section}.issuers]] `{issuer}`: {file}: {problem}")]
pub struct KeyLoadError {
    /// The configuration section the issuer is listed in (`consent`, `citizen`).
    pub section: &'static str,
    pub issuer: String,
    pub file: String,
    pub problem: String,
}

struct VerifyingKey {
    kid: Option<String>,
    family: AlgorithmFamily,
    key: DecodingKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct TrustedIssuer {
    issuer: String,
    audience: Vec<String>,
    algorithms: Vec<Algorithm>,
    keys: Vec<VerifyingKey>,
    leeway_s: i64,
}

/// A token whose signature, issuer, audience and validity period have been verified.
#[derive(Debug)]
pub(crate) struct VerifiedToken {
    /// The configured issuer it was verified against (`iss`).
    pub issuer: String,
    /// Every claim of the payload.
    pub claims: Map<String, Value>,
}

/// The issuers of one configuration section, with their keys read. Immutable: reload by
/// loading a new one.
#[derive(Debug)]
pub(crate) struct IssuerSet {
    issuers: Vec<TrustedIssuer>,
}

impl IssuerSet {
    /// Read every issuer's key files; errors name `[[<section>.issuers]]`.
    pub(crate) fn load(
        section: &'static str,
        issuers: &[IssuerConfig],
    ) -> Result<IssuerSet, KeyLoadError> {
        Ok(IssuerSet {
            issuers: issuers
                .iter()
                .map(|i| load_issuer(section, i))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Verify `token` at `now` (Unix seconds): steps 1–5 of specs/user-context.md
    /// "Verification" (structure, issuer by `iss`, pinned algorithm of the key's family,
    /// key by `kid`, signature, `iss`, `aud`, `exp`/`nbf` with the issuer's leeway).
    /// Returns the issuer and the verified claims; the caller reads its own claims.
    pub(crate) fn verify(&self, token: &str, now: i64) -> Result<VerifiedToken, JwtError> {
        if token.is_empty() {
            return Err(JwtError::Missing);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(_sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed("not three dot-separated parts"));
        };
        let header = json_part(h, "header is not base64url JSON")?;
        let unverified = json_part(p, "payload is not base64url JSON")?;

        // Choose the issuer by the unverified `iss`; everything below is verified with
        // that issuer's configuration only.
        let iss = match unverified.get("iss") {
            None => return Err(JwtError::MissingClaim("iss")),
            Some(Value::String(s)) => s,
            Some(_) => return Err(JwtError::InvalidClaim("iss")),
        };
        let issuer = self
            .issuers
            .iter()
            .find(|i| &i.issuer == iss)
            .ok_or(JwtError::WrongIssuer)?;

        let alg_name = match header.get("alg") {
            Some(Value::String(s)) => s.as_str(),
            _ => return Err(JwtError::Malformed("header has no alg")),
        };
        let alg: Algorithm = alg_name.parse().map_err(|_| {
            // Echo only names we know; anything else is attacker text.
            JwtError::WrongAlgorithm(if alg_name.eq_ignore_ascii_case("none") {
                "none".into()
            } else {
                "unsupported".into()
            })
        })?;
        if !issuer.algorithms.contains(&alg) {
            return Err(JwtError::WrongAlgorithm(alg_name.to_string()));
        }
        let kid = match header.get("kid") {
            None | Some(Value::Null) => None,
            Some(Value::String(k)) => Some(k.as_str()),
            Some(_) => return Err(JwtError::Malformed("kid is not a string")),
        };
        let key = match kid {
            Some(kid) => issuer
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .ok_or(JwtError::UnknownKid)?,
            None => match issuer.keys.as_slice() {
                [only] => only,
                _ => return Err(JwtError::MissingKid),
            },
        };
        if key.family != alg.family() {
            return Err(JwtError::WrongAlgorithm(alg_name.to_string()));
        }

        let mut v = Validation::new(alg);
        v.algorithms = vec![alg];
        v.validate_exp = false; // checked below against the injected clock
        v.validate_nbf = false;
        v.set_required_spec_claims(&["iss", "aud"]);
        v.set_issuer(&[&issuer.issuer]);
        v.set_audience(&issuer.audience);
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &v).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                match e.kind() {
                    K::InvalidSignature => JwtError::BadSignature,
                    K::InvalidAlgorithm | K::InvalidAlgorithmName | K::MissingAlgorithm => {
                        JwtError::WrongAlgorithm(alg_name.to_string())
                    }
                    K::InvalidIssuer => JwtError::WrongIssuer,
                    K::InvalidAudience => JwtError::WrongAudience,
                    K::MissingRequiredClaim(c) if c == "aud" => JwtError::MissingClaim("aud"),
                    K::MissingRequiredClaim(_) => JwtError::MissingClaim("iss"),
                    K::InvalidClaimFormat(_) => JwtError::InvalidClaim("aud"),
                    K::Base64(_) => JwtError::Malformed("not base64url"),
                    K::Json(_) | K::Utf8(_) => JwtError::Malformed("not JSON"),
                    _ => JwtError::BadSignature,
                }
            })?;
        let c = data.claims;

        // RFC 7519 §4.1.4/§4.1.5 with a bounded leeway (clock skew).
        let exp = numeric_date(&c, "exp")?.ok_or(JwtError::MissingClaim("exp"))?;
        if now >= exp.saturating_add(issuer.leeway_s) {
            return Err(JwtError::Expired);
        }
        if let Some(nbf) = numeric_date(&c, "nbf")? {
            if now < nbf.saturating_sub(issuer.leeway_s) {
                return Err(JwtError::NotYetValid);
            }
        }
        Ok(VerifiedToken {
            issuer: issuer.issuer.clone(),
            claims: c,
        })
    }
}

/// The token of `Authorization: Bearer <token>`: `Missing` without the header,
/// `Malformed` when it is not ASCII or not the Bearer scheme.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&str, JwtError> {
    match headers.get(http::header::AUTHORIZATION) {
        None => Err(JwtError::Missing),
        Some(v) => {
            let s = v
                .to_str()
                .map_err(|_| JwtError::Malformed("header is not ASCII"))?;
            match s.split_once(' ') {
                Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => Ok(t.trim()),
                _ => Err(JwtError::Malformed("Authorization is not a Bearer token")),
            }
        }
    }
}

fn json_part(b64: &str, what: &'static str) -> Result<Map<String, Value>, JwtError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64.trim_end_matches('='))
        .map_err(|_| JwtError::Malformed(what))?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed(what))
}

fn numeric_date(c: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, JwtError> {
    match c.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or(JwtError::InvalidClaim(name)),
        Some(_) => Err(JwtError::InvalidClaim(name)),
    }
}

pub(crate) fn required_str(c: &Map<String, Value>, name: &'static str) -> Result<String, JwtError> {
    optional_str(c, name)?.ok_or(JwtError::MissingClaim(name))
}

pub(crate) fn optional_str(
    c: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, JwtError> {
    match c.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(JwtError::InvalidClaim(name)),
    }
}

fn load_issuer(section: &'static str, cfg: &IssuerConfig) -> Result<TrustedIssuer, KeyLoadError> {
    let err = |file: &Path, problem: String| KeyLoadError {
        section,
        issuer: cfg.issuer.clone(),
        file: file.display().to_string(),
        problem,
    };
    let read =
        |file: &Path| std::fs::read(file).map_err(|e| err(file, format!("cannot read: {e}")));
    let family = cfg.algorithms[0].family();
    let mut keys = Vec::new();
    match &cfg.keys {
        IssuerKeys::HmacSecret(file) => {
            let mut secret = read(file)?;
            while secret.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                secret.pop();
            }
            // RFC 7518 §3.2: a key at least as long as the hash output.
            if secret.len() < 32 {
                return Err(err(file, "an HMAC secret must be at least 32 bytes".into()));
            }
            keys.push(VerifyingKey {
                kid: None,
                family,
                key: DecodingKey::from_secret(&secret),
            });
        }
        IssuerKeys::Public { pem, pem_kid, jwks } => {
            if let Some(file) = pem {
                let bytes = read(file)?;
                let key = match family {
                    AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(&bytes),
                    AlgorithmFamily::Ec => DecodingKey::from_ec_pem(&bytes),
                    AlgorithmFamily::Ed => DecodingKey::from_ed_pem(&bytes),
                    AlgorithmFamily::Hmac => unreachable!("config keeps HS* to hmac_secret_file"),
                }
                .map_err(|e| {
                    err(
                        file,
                        format!(
                            "not a {family:?} public key in PEM for {:?}: {e}",
                            cfg.algorithms
                        ),
                    )
                })?;
                keys.push(VerifyingKey {
                    kid: pem_kid.clone(),
                    family,
                    key,
                });
            }
            if let Some(file) = jwks {
                let set: JwkSet = serde_json::from_slice(&read(file)?)
                    .map_err(|e| err(file, format!("not a JWKS document: {e}")))?;
                for (i, jwk) in set.keys.iter().enumerate() {
                    let key_family = match &jwk.algorithm {
                        AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa,
                        AlgorithmParameters::EllipticCurve(_) => AlgorithmFamily::Ec,
                        AlgorithmParameters::OctetKeyPair(_) => AlgorithmFamily::Ed,
                        AlgorithmParameters::OctetKey(_) => {
                            return Err(err(file, format!("key {i} is a symmetric (oct) key: a JWKS may hold only public keys")))
                        }
                    };
                    if key_family != family {
                        return Err(err(
                            file,
                            format!("key {i} is a {key_family:?} key but the issuer's algorithms are {:?}", cfg.algorithms),
                        ));
                    }
                    let kid = jwk.common.key_id.clone();
                    if kid.is_some() && keys.iter().any(|k: &VerifyingKey| k.kid == kid) {
                        return Err(err(file, format!("key {i}: kid is used twice")));
                    }
                    let key = DecodingKey::from_jwk(jwk)
                        .map_err(|e| err(file, format!("key {i} is not usable: {e}")))?;
                    keys.push(VerifyingKey { kid, family, key });
                }
            }
        }
    }
    Ok(TrustedIssuer {
        issuer: cfg.issuer.clone(),
        audience: cfg.audience.clone(),
        algorithms: cfg.algorithms.clone(),
        keys,
        leeway_s: cfg.leeway.as_secs() as i64,
    })
}
