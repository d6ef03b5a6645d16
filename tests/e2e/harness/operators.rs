//! Operators of a gateway whose admin listener requires tokens (`[admin]
//! require_token`): an identity provider of their own for the tests.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use super::{GatewayConfig, Table};

/// An identity provider for operator tokens: a P-256 key pair whose public half the
/// gateway trusts (`[[consent.issuers]]`, which `[admin] require_token` verifies
/// against).
pub struct OperatorIssuer {
    dir: tempfile::TempDir,
    key: EncodingKey,
}

impl OperatorIssuer {
    pub fn new() -> OperatorIssuer {
        let dir = tempfile::tempdir().expect("tempdir");
        let pair = rcgen::KeyPair::generate().expect("P-256 key");
        std::fs::write(dir.path().join("idp.pub.pem"), pair.public_key_pem()).expect("write key");
        let key = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("EC key");
        OperatorIssuer { dir, key }
    }

    /// A configuration whose admin listener requires this issuer's operator tokens.
    pub fn protected(&self, table: &Table) -> GatewayConfig {
        let mut cfg = GatewayConfig::new(table);
        cfg.admin_extra = "require_token = true\n".to_string();
        cfg.extra_sections = format!(
            "[[consent.issuers]]\nissuer = \"https://idp.example\"\naudience = [\"vaxel\"]\nalgorithms = [\"ES256\"]\npublic_key_pem = {:?}\n",
            self.dir.path().join("idp.pub.pem").display().to_string()
        );
        // /ready itself stays open, so start-up waits as usual.
        cfg
    }

    pub fn token(&self, roles: &[&str]) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        jsonwebtoken::encode(
            &Header::new(Algorithm::ES256),
            &json!({
                "iss": "https://idp.example", "aud": "vaxel", "sub": "SE2321000016-OPS1",
                "care_unit": "SE2321000016-OPS", "care_giver": "SE2321000016",
                "purpose": "operations", "roles": roles, "exp": now + 600,
            }),
            &self.key,
        )
        .expect("sign token")
    }
}
