//! Sandbox configuration, loadable from TOML (schema on [`Config`]).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The whole sandbox configuration: one section per emulated vendor.
///
/// Every field is optional; a missing field keeps its demo default. Unknown keys are an error, so a typo
/// in a config file is reported instead of silently ignored. The full schema, with the defaults:
///
/// ```toml
/// [par_ordering]
/// application_key = "f3a90488ffee32c3acb6fcd0ca417cf6"
/// client_id = "sandbox-par-client"
/// client_secret = "sandbox-par-secret"
/// api_version = "4.38.0"        # "4.38.0" is always accepted too
/// m2m_ttl_s = 86399             # lifetime of the M2M token
/// menu_token_ttl_min = 60       # lifetime of the menu token (and of the DLC token), minutes as PAR sends `ttl`
/// punchh_linked = false         # answer sign-in with a dlc_access_token too
/// # customer_info_url = "http://127.0.0.1:8080/customer-info"   # unset: only test subject tokens sign in
///
/// [punchh]
/// client = "CLIENT_GOES_HERE"           # business key, also the OAuth client_id
/// secret = "SECRET_GOES_HERE"           # the OAuth client_secret
/// # signing_secret = "…"                # x-pch-digest secret; unset: the same as `secret`
/// redirect_uri = "https://redirect-uri.com/auth"
/// security_token = "SECURITY_TOKEN_GOES_HERE"
///
/// [punchh.user]                         # the test user every Punchh sign-in yields
/// id = 111111111
/// email = "test@example.com"
/// first_name = "Jane"
/// last_name = "Doe"
/// password = "sandbox-punchh-password"  # what the Punchh sign-in form accepts with `email`
///
/// [stream]
/// client_id = "sandbox-stream-client"
/// client_secret = "sandbox-stream-secret"
/// token_ttl_s = 3600            # API client token lifetime
/// login_token_ttl_s = 300       # one-time SSO login token lifetime
///
/// [pos_api]
/// client_id = "sandbox-pos-client"
/// client_secret = "sandbox-pos-secret"
/// access_ttl_s = 3600
/// basic_form_encoded = false    # true: the Basic credentials are form-decoded (RFC 6749 §2.3.1)
///
/// [oauth2]
/// client_id = "s6BhdRkqt3"
/// client_secret = "7Fjfp0ZBr1KtDRbnfVdmIw"
/// username = "johndoe"
/// password = "A3ddj3w"
/// access_ttl_s = 3600
/// redirect_uri = "https://client.example.com/cb"   # loopback redirect URIs are always allowed too
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[par_ordering]`: PAR Ordering M2M token, token exchange and customer accounts.
    pub par_ordering: ParOrderingConfig,
    /// `[punchh]`: Punchh SSO and authorization-code flow.
    pub punchh: PunchhConfig,
    /// `[stream]`: Stream white-label SSO.
    pub stream: StreamConfig,
    /// `[pos_api]`: POS API admin accounts (ROPC).
    pub pos_api: PosApiConfig,
    /// `[oauth2]`: the generic RFC 6749 server.
    pub oauth2: OAuth2Config,
}

impl Config {
    /// Parses a TOML document; missing fields keep their defaults, unknown keys are an error.
    pub fn from_toml_str(s: &str) -> Result<Self, ConfigError> {
        toml::from_str(s).map_err(|e| ConfigError::Parse {
            path: None,
            message: e.to_string(),
        })
    }

    /// Reads and parses a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: Some(path.to_path_buf()),
            message: e.to_string(),
        })
    }
}

/// `[par_ordering]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParOrderingConfig {
    /// Value the `Application` header must carry.
    pub application_key: String,
    /// M2M client id (HTTP Basic user).
    pub client_id: String,
    /// M2M client secret (HTTP Basic password).
    pub client_secret: String,
    /// Accepted `Api-Version` header value (besides `4.38.0`).
    pub api_version: String,
    /// Lifetime of the M2M access token, seconds.
    pub m2m_ttl_s: u64,
    /// Lifetime of the menu token (and the DLC token), **minutes**: the unit of PAR's `ttl`
    /// (seed 000: `"ttl": 60` beside a JWT whose `exp - iat` is 3600 s).
    pub menu_token_ttl_min: u64,
    /// When true, sign-in answers carry a `dlc_access_token` (brand integrated with Punchh).
    pub punchh_linked: bool,
    /// The ordering application's `/customer-info` endpoint, called for non-test subject tokens.
    pub customer_info_url: Option<String>,
}

impl Default for ParOrderingConfig {
    fn default() -> Self {
        Self {
            application_key: "f3a90488ffee32c3acb6fcd0ca417cf6".into(),
            client_id: "sandbox-par-client".into(),
            client_secret: "sandbox-par-secret".into(),
            api_version: "4.38.0".into(),
            m2m_ttl_s: 86399,
            menu_token_ttl_min: 60,
            punchh_linked: false,
            customer_info_url: None,
        }
    }
}

/// `[punchh]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PunchhConfig {
    /// Business client key; also the OAuth `client_id`.
    pub client: String,
    /// The OAuth `client_secret` `/oauth/token` checks; also the digest secret unless
    /// `signing_secret` is set.
    pub secret: String,
    /// The `x-pch-digest` secret, when it differs from the client secret (`None`: `secret`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
    /// The one redirect URI registered for the OAuth app.
    pub redirect_uri: String,
    /// The security token `/api/auth/sso` accepts.
    pub security_token: String,
    /// The test user every sign-in yields.
    pub user: PunchhUserConfig,
}

impl Default for PunchhConfig {
    fn default() -> Self {
        Self {
            client: "CLIENT_GOES_HERE".into(),
            secret: "SECRET_GOES_HERE".into(),
            signing_secret: None,
            redirect_uri: "https://redirect-uri.com/auth".into(),
            security_token: "SECURITY_TOKEN_GOES_HERE".into(),
            user: PunchhUserConfig::default(),
        }
    }
}

impl PunchhConfig {
    /// The secret `x-pch-digest` is checked with: `signing_secret`, else `secret`.
    pub fn signing_secret(&self) -> &str {
        self.signing_secret.as_deref().unwrap_or(&self.secret)
    }
}

/// `[punchh.user]` section: the Punchh test user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PunchhUserConfig {
    /// Numeric Punchh user id.
    pub id: u64,
    /// Email address.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// The password the Punchh-hosted sign-in form accepts (with `email`).
    pub password: String,
}

impl Default for PunchhUserConfig {
    fn default() -> Self {
        Self {
            id: 111_111_111,
            email: "test@example.com".into(),
            first_name: "Jane".into(),
            last_name: "Doe".into(),
            password: "sandbox-punchh-password".into(),
        }
    }
}

/// `[stream]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamConfig {
    /// API client id.
    pub client_id: String,
    /// API client secret.
    pub client_secret: String,
    /// Lifetime of the API client token, seconds.
    pub token_ttl_s: u64,
    /// Lifetime of a one-time SSO login token, seconds.
    pub login_token_ttl_s: u64,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            client_id: "sandbox-stream-client".into(),
            client_secret: "sandbox-stream-secret".into(),
            token_ttl_s: 3600,
            login_token_ttl_s: 300,
        }
    }
}

/// `[pos_api]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PosApiConfig {
    /// Client id for the Basic header of `/auth/token`.
    pub client_id: String,
    /// Client secret for the Basic header of `/auth/token`.
    pub client_secret: String,
    /// Lifetime of an access token, seconds.
    pub access_ttl_s: u64,
    /// Form-decode the Basic credentials (RFC 6749 §2.3.1) before comparing them. Default
    /// `false`: Base64 of the raw `client_id:client_secret` bytes, as seed 004's "basic
    /// authorization header" reads.
    pub basic_form_encoded: bool,
}

impl Default for PosApiConfig {
    fn default() -> Self {
        Self {
            client_id: "sandbox-pos-client".into(),
            client_secret: "sandbox-pos-secret".into(),
            access_ttl_s: 3600,
            basic_form_encoded: false,
        }
    }
}

/// `[oauth2]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuth2Config {
    /// The one registered client's id.
    pub client_id: String,
    /// The one registered client's secret.
    pub client_secret: String,
    /// Resource owner for the `password` grant and `/authorize` (its sign-in form, or auto-approval).
    pub username: String,
    /// The resource owner's password.
    pub password: String,
    /// Lifetime of an access token, seconds.
    pub access_ttl_s: u64,
    /// Registered redirect URI; loopback (127.0.0.1, localhost, \[::1\]) URIs are accepted as well.
    pub redirect_uri: String,
    /// The public kiosk client of the device grant (RFC 8628): it sends only its `client_id`.
    pub device_client_id: String,
    /// Lifetime of a device code and its user code, seconds (`expires_in`).
    pub device_code_ttl_s: u64,
    /// The device grant's polling interval, seconds (`interval`; 1 so demos and tests are
    /// quick, where RFC 8628 defaults to 5).
    pub device_interval_s: u64,
}

impl Default for OAuth2Config {
    fn default() -> Self {
        Self {
            client_id: "s6BhdRkqt3".into(),
            client_secret: "7Fjfp0ZBr1KtDRbnfVdmIw".into(),
            username: "johndoe".into(),
            password: "A3ddj3w".into(),
            access_ttl_s: 3600,
            redirect_uri: "https://client.example.com/cb".into(),
            device_client_id: "sandbox-kiosk".into(),
            device_code_ttl_s: 600,
            device_interval_s: 1,
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The TOML was malformed, had a wrongly typed value, or an unknown key.
    Parse {
        /// The file, when parsing a file.
        path: Option<PathBuf>,
        /// What the TOML parser said (with line and column).
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => {
                write!(f, "cannot read sandbox config {}: {source}", path.display())
            }
            Self::Parse {
                path: Some(path),
                message,
            } => write!(f, "invalid sandbox config {}: {message}", path.display()),
            Self::Parse {
                path: None,
                message,
            } => write!(f, "invalid sandbox config: {message}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Parse { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_document_is_the_default() {
        assert_eq!(Config::from_toml_str("").ok(), Some(Config::default()));
    }

    #[test]
    fn partial_sections_keep_other_defaults() {
        let c = Config::from_toml_str(
            "[par_ordering]\npunchh_linked = true\nmenu_token_ttl_min = 5\n[punchh.user]\nemail = \"a@b.c\"\n",
        )
        .expect("valid");
        assert!(c.par_ordering.punchh_linked);
        assert_eq!(c.par_ordering.menu_token_ttl_min, 5);
        assert_eq!(c.par_ordering.client_id, "sandbox-par-client");
        assert_eq!(c.punchh.user.email, "a@b.c");
        assert_eq!(c.punchh.user.id, 111_111_111);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        for doc in [
            "[par_ordering]\nclient_idd = \"x\"\n",
            "[nope]\n",
            "[punchh.user]\nage = 3\n",
            "top = 1\n",
        ] {
            let err = Config::from_toml_str(doc).expect_err(doc);
            assert!(err.to_string().contains("unknown"), "{err}");
        }
    }

    #[test]
    fn documented_schemas_are_the_defaults() {
        let readme = include_str!("../README.md");
        let toml_block = readme
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("README has a toml block");
        assert_eq!(
            Config::from_toml_str(toml_block).ok(),
            Some(Config::default())
        );
    }

    #[test]
    fn wrong_types_are_rejected() {
        assert!(Config::from_toml_str("[pos_api]\naccess_ttl_s = \"long\"\n").is_err());
    }
}
