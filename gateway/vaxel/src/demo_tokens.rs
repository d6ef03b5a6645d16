//! The demo's care-staff identity provider (`serve --demo` only). With consent checking
//! on, every journal call needs the end user's context, a JWT from an issuer in
//! `[[consent.issuers]]` (specs/user-context.md); in production a region's identity
//! provider issues it. The demo has none, so it makes one: an ES256 key pair made on
//! the first start in `vaxel-data/` (never committed; the same code as the citizen's
//! demo identity provider, `citizen::demo`), its public key written into `demo.toml` as
//! the `[[consent.issuers]]` entry, and `GET /demo/user-context` on the admin listener,
//! which signs a short-lived user context with the private key.
//!
//! Why an endpoint and not a `vaxel demo-token` command: a README reader gets a token
//! with nothing but curl (`T=$(curl -s localhost:8080/demo/user-context)`), in the same
//! terminal as the calls that use it, from the process that holds the key, without a
//! second `cargo run` (a build check each time) or a path to the key file.
//!
//! Guards: the endpoint answers 404 unless the gateway runs as `serve --demo` (only
//! `demo::prepare` sets the key; no configuration file can), and 403 to a client that
//! is not on loopback, even if an operator moved the demo's admin listener.

use std::path::Path;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::citizen::demo::DemoIssuerFiles;
use crate::ops::json_response;

/// The demo care-staff issuer's `iss`, and the audience its tokens name (and
/// `demo.toml` accepts).
pub const ISSUER: &str = "https://staff-idp.demo.vaxel.invalid";
pub const AUDIENCE: &str = "vaxel";
/// How long a demo user context is valid (specs/user-context.md: issuers SHOULD issue
/// short-lived tokens).
pub const TOKEN_LIFETIME_S: i64 = 15 * 60;
/// Where the admin listener serves them.
pub const PATH: &str = "/demo/user-context";
/// The demo doctor's care giver and unit: the first demo journal source's, so that its
/// records are the doctor's own care giver's and the second source's are another's.
pub const DEFAULT_CARE_GIVER: &str = vaxel_routing::DEMO_CARE_PROVIDER;
pub const DEFAULT_CARE_UNIT: &str = vaxel_routing::DEMO_CARE_UNIT;
/// The professional role written to the access log (`user_role`) unless asked otherwise.
pub const DEFAULT_USER_ROLE: &str = "Läkare";

/// Make the key pair in `data` unless it is there (`demo-staff-issuer.key`/`.pem`).
pub fn ensure_key(data: &Path) -> anyhow::Result<DemoIssuerFiles> {
    crate::citizen::demo::ensure_key_pair(data, "demo-staff-issuer")
}

/// What a demo user context says: the claims of specs/user-context.md "Claims".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoUserContext {
    pub user: String,
    pub care_giver: String,
    pub care_unit: String,
    pub purpose: String,
    pub emergency_reason: Option<String>,
    pub roles: Vec<String>,
    pub user_role: String,
}

/// The query parameters `GET /demo/user-context` takes.
const PARAMETERS: &str = "user, care_giver, care_unit, purpose, emergency_reason, roles, user_role";

impl DemoUserContext {
    /// The claims a query asks for. Defaults: the demo doctor (`<care_giver>-DOCTOR`) at
    /// [`DEFAULT_CARE_GIVER`] and [`DEFAULT_CARE_UNIT`] (another care giver's unit
    /// defaults to `<care_giver>-UNIT1`, as the demo sources name them), purpose `care`,
    /// no emergency, no roles. The error names the parameter and what it must be.
    pub fn from_query(query: &str) -> Result<DemoUserContext, String> {
        let mut user = None;
        let mut care_giver = None;
        let mut care_unit = None;
        let mut purpose = None;
        let mut emergency_reason = None;
        let mut roles = Vec::new();
        let mut user_role = None;
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match &*k {
                "user" => &mut user,
                "care_giver" => &mut care_giver,
                "care_unit" => &mut care_unit,
                "purpose" => &mut purpose,
                "emergency_reason" => &mut emergency_reason,
                "user_role" => &mut user_role,
                "roles" => {
                    // Comma- or space-separated, and the parameter may repeat.
                    for role in v.split([',', ' ']).filter(|r| !r.is_empty()) {
                        roles.push(hsa_like("roles", role)?);
                    }
                    continue;
                }
                other => {
                    return Err(format!(
                        "unknown parameter `{other}`: the parameters are {PARAMETERS}"
                    ))
                }
            };
            if slot.is_some() {
                return Err(format!("`{k}` is given twice"));
            }
            *slot = Some(v.into_owned());
        }
        let care_giver = match care_giver {
            Some(g) => hsa_like("care_giver", &g)?,
            None => DEFAULT_CARE_GIVER.to_string(),
        };
        let care_unit = match care_unit {
            Some(u) => hsa_like("care_unit", &u)?,
            None if care_giver == DEFAULT_CARE_GIVER => DEFAULT_CARE_UNIT.to_string(),
            None => format!("{care_giver}-UNIT1"),
        };
        Ok(DemoUserContext {
            user: match user {
                Some(u) => hsa_like("user", &u)?,
                None => format!("{care_giver}-DOCTOR"),
            },
            purpose: text("purpose", purpose.as_deref().unwrap_or("care"))?,
            emergency_reason: emergency_reason
                .map(|r| text("emergency_reason", &r))
                .transpose()?,
            user_role: text(
                "user_role",
                user_role.as_deref().unwrap_or(DEFAULT_USER_ROLE),
            )?,
            care_giver,
            care_unit,
            roles,
        })
    }
}

/// An HSA id or a role name: 1-64 printable ASCII characters without spaces (as the
/// consent admin API takes HSA ids).
fn hsa_like(name: &str, v: &str) -> Result<String, String> {
    if !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_graphic()) {
        Ok(v.to_string())
    } else {
        Err(format!(
            "`{name}` must be 1-64 printable ASCII characters without spaces"
        ))
    }
}

/// A free text claim: not empty or only white space (specs/user-context.md: an empty
/// `emergency_reason` is an error, not "no emergency"), at most 200 characters, no
/// control characters.
fn text(name: &str, v: &str) -> Result<String, String> {
    if v.trim().is_empty() || v.chars().count() > 200 || v.chars().any(char::is_control) {
        Err(format!(
            "`{name}` must be 1-200 characters, not only white space, without control characters"
        ))
    } else {
        Ok(v.to_string())
    }
}

/// Signs the demo's user contexts.
pub struct DemoStaffIssuer {
    key: EncodingKey,
}

impl std::fmt::Debug for DemoStaffIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoStaffIssuer").finish_non_exhaustive()
    }
}

impl DemoStaffIssuer {
    /// The issuer whose private key is at `path` (written by [`ensure_key`]).
    pub fn load(path: &Path) -> anyhow::Result<DemoStaffIssuer> {
        let pem = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Ok(DemoStaffIssuer {
            key: EncodingKey::from_ec_pem(&pem)
                .map_err(|e| anyhow::anyhow!("{}: not an EC private key: {e}", path.display()))?,
        })
    }

    /// A user context with `claims`, valid from `now` (Unix seconds) for
    /// [`TOKEN_LIFETIME_S`].
    pub fn token(&self, claims: &DemoUserContext, now: i64) -> anyhow::Result<String> {
        let mut c = json!({
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": claims.user,
            "care_giver": claims.care_giver,
            "care_unit": claims.care_unit,
            "purpose": claims.purpose,
            "user_role": claims.user_role,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_S,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        if let Some(reason) = &claims.emergency_reason {
            c["emergency_reason"] = json!(reason);
        }
        if !claims.roles.is_empty() {
            c["roles"] = json!(claims.roles);
        }
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::ES256),
            &c,
            &self.key,
        )?)
    }
}

/// `GET /demo/user-context[?...]` on the admin listener: the token as `text/plain`, so
/// that `$(curl -s localhost:8080/demo/user-context)` is the token.
pub fn handle(
    issuer: Option<&DemoStaffIssuer>,
    method: &Method,
    query: Option<&str>,
    peer_on_loopback: bool,
) -> Response<Full<Bytes>> {
    let Some(issuer) = issuer else {
        return json_response(
            StatusCode::NOT_FOUND,
            json!({"error": "demo user contexts exist only in `vaxel serve --demo`; outside it, your identity provider ([[consent.issuers]]) issues them"}),
        );
    };
    if !peer_on_loopback {
        return json_response(
            StatusCode::FORBIDDEN,
            json!({"error": "demo user contexts are handed out on loopback only"}),
        );
    }
    if method != Method::GET {
        return json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": format!("method not allowed: GET {PATH}")}),
        );
    }
    let claims = match DemoUserContext::from_query(query.unwrap_or("")) {
        Ok(c) => c,
        Err(e) => return json_response(StatusCode::BAD_REQUEST, json!({"error": e})),
    };
    match issuer.token(&claims, vaxel_model::clock::now_utc().timestamp()) {
        Ok(token) => {
            let mut r = Response::new(Full::new(Bytes::from(format!("{token}\n"))));
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": format!("the demo user context could not be signed: {e}")}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaxel_pdl::consent::jwt::Verifier;

    fn issuer_and_verifier() -> (tempfile::TempDir, DemoStaffIssuer, Verifier) {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = ensure_key(dir.path()).expect("key pair");
        // As demo.toml's [[consent.issuers]] entry says it.
        let config = vaxel_pdl::config::ConsentConfig {
            enabled: true,
            issuers: vec![vaxel_pdl::config::IssuerConfig {
                issuer: ISSUER.to_string(),
                audience: vec![AUDIENCE.to_string()],
                algorithms: vec![Algorithm::ES256],
                keys: vaxel_pdl::config::IssuerKeys::Public {
                    pem: Some(files.public_key.clone()),
                    pem_kid: None,
                    jwks: None,
                },
                leeway: std::time::Duration::from_secs(60),
            }],
            ..Default::default()
        };
        let verifier = Verifier::from_config(&config).expect("verifier");
        let issuer = DemoStaffIssuer::load(&files.private_key).expect("load");
        (dir, issuer, verifier)
    }

    #[test]
    fn defaults_are_the_demo_doctor_at_the_first_demo_care_giver() {
        let c = DemoUserContext::from_query("").expect("no parameters");
        assert_eq!(c.user, "SE2321000016-DEMO-DOCTOR");
        assert_eq!(c.care_giver, "SE2321000016-DEMO");
        assert_eq!(c.care_unit, "SE2321000016-DEMO-UNIT1");
        assert_eq!(c.purpose, "care");
        assert_eq!(c.emergency_reason, None);
        assert!(c.roles.is_empty());
        let other = DemoUserContext::from_query("care_giver=SE2321000032-OTHER").expect("other");
        assert_eq!(other.care_unit, "SE2321000032-OTHER-UNIT1");
        assert_eq!(other.user, "SE2321000032-OTHER-DOCTOR");
    }

    #[test]
    fn parameters_are_decoded_and_checked() {
        let c = DemoUserContext::from_query(
            "emergency_reason=unconscious%20on%20arrival&roles=consent-admin,pdl-auditor&roles=x&purpose=care",
        )
        .expect("valid");
        assert_eq!(
            c.emergency_reason.as_deref(),
            Some("unconscious on arrival")
        );
        assert_eq!(c.roles, ["consent-admin", "pdl-auditor", "x"]);
        for (query, named) in [
            ("caregiver=X", "caregiver"),
            ("emergency_reason=", "emergency_reason"),
            ("emergency_reason=+++", "emergency_reason"),
            ("care_unit=a%20b", "care_unit"),
            ("purpose=care&purpose=care", "purpose"),
        ] {
            let e = DemoUserContext::from_query(query).expect_err(query);
            assert!(e.contains(named), "{query}: {e}");
        }
    }

    #[test]
    fn tokens_verify_as_user_contexts_with_every_claim() {
        let (_dir, issuer, verifier) = issuer_and_verifier();
        let claims =
            DemoUserContext::from_query("emergency_reason=unconscious&roles=consent-admin")
                .expect("valid");
        let now = vaxel_model::clock::now_utc().timestamp();
        let token = issuer.token(&claims, now).expect("sign");
        let user = verifier.verify(&token, now).expect("verifies");
        assert_eq!(user.user_hsa_id, "SE2321000016-DEMO-DOCTOR");
        assert_eq!(user.care_giver_hsa_id, "SE2321000016-DEMO");
        assert_eq!(user.care_unit_hsa_id, "SE2321000016-DEMO-UNIT1");
        assert_eq!(user.user_role.as_deref(), Some("Läkare"));
        assert_eq!(user.purpose, "care");
        assert_eq!(user.emergency_reason.as_deref(), Some("unconscious"));
        assert!(user.has_role("consent-admin"));
        // 15 minutes, then refused (beyond the 60 s leeway).
        assert!(verifier
            .verify(&token, now + TOKEN_LIFETIME_S + 61)
            .is_err());
    }

    #[test]
    fn the_endpoint_is_demo_and_loopback_only() {
        let (_dir, issuer, _) = issuer_and_verifier();
        let status = |i: Option<&DemoStaffIssuer>, m: Method, q: Option<&str>, lo: bool| {
            handle(i, &m, q, lo).status()
        };
        assert_eq!(status(None, Method::GET, None, true), StatusCode::NOT_FOUND);
        assert_eq!(
            status(Some(&issuer), Method::GET, None, false),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(Some(&issuer), Method::POST, None, true),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            status(Some(&issuer), Method::GET, Some("nope=1"), true),
            StatusCode::BAD_REQUEST
        );
        let r = handle(Some(&issuer), &Method::GET, None, true);
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
    }
}
