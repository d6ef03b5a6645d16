//! The demo's citizen identity provider (`serve --demo` only): a signing key made on the
//! first start (kept in `vaxel-data/`, never committed), its public key configured as
//! the `[[citizen.issuers]]` entry, and short-lived tokens for the demo patient that the
//! citizen page fetches when "signing in" (`GET /citizen/demo/token`). Outside the demo
//! there is no such endpoint: a real identity provider issues the tokens.

use std::path::{Path, PathBuf};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

/// The demo issuer's `iss` and the audience its tokens name.
pub const ISSUER: &str = "https://idp.demo.vaxel.invalid";
pub const AUDIENCE: &str = "vaxel-citizen";
/// How long a demo token is valid.
pub const TOKEN_LIFETIME_S: i64 = 15 * 60;

/// Files of the demo issuer's key pair.
#[derive(Debug, Clone)]
pub struct DemoIssuerFiles {
    pub private_key: PathBuf,
    pub public_key: PathBuf,
}

/// Make the key pair in `data` unless it is there (ES256, P-256).
pub fn ensure_key(data: &Path) -> anyhow::Result<DemoIssuerFiles> {
    ensure_key_pair(data, "demo-citizen-issuer")
}

/// Make the ES256 (P-256) key pair `<stem>.key` (private, mode 0600) and `<stem>.pem`
/// (public) in `data` unless both are there. Also the demo's care-staff identity
/// provider's (`crate::demo_tokens`).
pub fn ensure_key_pair(data: &Path, stem: &str) -> anyhow::Result<DemoIssuerFiles> {
    let files = DemoIssuerFiles {
        private_key: data.join(format!("{stem}.key")),
        public_key: data.join(format!("{stem}.pem")),
    };
    if files.private_key.exists() && files.public_key.exists() {
        return Ok(files);
    }
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    write_private(&files.private_key, pair.serialize_pem().as_bytes())?;
    std::fs::write(&files.public_key, pair.public_key_pem())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", files.public_key.display()))?;
    Ok(files)
}

fn write_private(path: &Path, pem: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    f.write_all(pem)?;
    Ok(())
}

/// Signs the demo's citizen tokens.
pub struct DemoIssuer {
    key: EncodingKey,
}

impl std::fmt::Debug for DemoIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoIssuer").finish_non_exhaustive()
    }
}

impl DemoIssuer {
    /// The issuer whose private key is at `path` (written by [`ensure_key`]).
    pub fn load(path: &Path) -> anyhow::Result<DemoIssuer> {
        let pem = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Ok(DemoIssuer {
            key: EncodingKey::from_ec_pem(&pem)?,
        })
    }

    /// A token for `citizen` at assurance level `loa`, acting for `child` when given.
    pub fn token(&self, citizen: &str, loa: u8, child: Option<&str>) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let mut claims = json!({
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": citizen,
            "loa": loa,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_S,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        if let Some(child) = child {
            claims["guardian_of"] = json!(child);
        }
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::ES256),
            &claims,
            &self.key,
        )?)
    }
}
