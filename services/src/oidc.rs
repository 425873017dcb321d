//! Logging in through the municipality's identity provider with OpenID Connect
//! (docs/decisions/0008).
//!
//! The authorization code flow, with PKCE and a nonce, as a confidential client: the
//! browser is sent to the provider ([`Oidc::start`]), comes back with a code, and Kurslogg
//! exchanges the code for an ID token, verifies its signature, issuer, audience, expiry and
//! nonce (the `openidconnect` crate does the protocol), and reads one claim (`email` by
//! default) as the Kurslogg login name ([`Oidc::finish`]). Who that is, and what they may
//! do, is Kurslogg's own `users` table: the provider says who someone is, never their role.
//!
//! The provider's metadata and keys are fetched on every login rather than cached, so a
//! key rotated at the provider is picked up at once; logins are rare enough for two extra
//! requests not to matter.

use std::sync::Arc;

use crate::auth::{sha256_hex, stamp};
use crate::config::Secret;
use chrono::{DateTime, Duration, Utc};
use kurslogg_domain::Clock;
use kurslogg_projections::Db;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

/// How long a login begun at the provider may take to come back.
const PENDING_MINUTES: i64 = 10;

/// Which claim of the verified identity is the Kurslogg login name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginClaim {
    /// `email` (the default: what municipalities' directories agree on). Refused when the
    /// provider says the address is not verified.
    Email,
    /// `preferred_username` (e.g. an Entra ID user principal name).
    PreferredUsername,
    /// `sub`, the provider's stable identifier.
    Subject,
}

impl LoginClaim {
    /// From its claim name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "email" => Some(Self::Email),
            "preferred_username" => Some(Self::PreferredUsername),
            "sub" => Some(Self::Subject),
            _ => None,
        }
    }

    /// The scope that asks the provider for the claim.
    fn scope(self) -> Option<&'static str> {
        match self {
            Self::Email => Some("email"),
            Self::PreferredUsername => Some("profile"),
            Self::Subject => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::PreferredUsername => "preferred_username",
            Self::Subject => "sub",
        }
    }
}

/// The provider and Kurslogg's registration with it.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The provider's issuer URL (its discovery document is under
    /// `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    /// Kurslogg's client id at the provider.
    pub client_id: String,
    /// Kurslogg's client secret.
    pub client_secret: Secret,
    /// Where the provider sends the browser back: Kurslogg's public
    /// `https://…/auth/oidc/callback`, as registered at the provider.
    pub redirect_url: String,
    /// The claim that is the login name.
    pub login_claim: LoginClaim,
}

/// Why an OpenID Connect login did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The browser came back with something Kurslogg did not send it off with: an unknown,
    /// used or expired state (400).
    #[error("{0}")]
    BadReturn(String),
    /// The provider refused, or its answer did not verify (401).
    #[error("{0}")]
    Refused(String),
    /// The provider could not be reached or answered nonsense (502).
    #[error("the identity provider: {0}")]
    Provider(String),
    /// The database (503).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// A login sent off to the provider.
#[derive(Debug, Clone)]
pub struct Started {
    /// Where to send the browser.
    pub authorize_url: String,
    /// The state: also kept in a cookie, so that only the browser that began the login
    /// can finish it.
    pub state: String,
}

/// A client made from the provider's discovery document: authorization endpoint set, token
/// and user-info endpoints as the document says.
type ProviderClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// OpenID Connect logins.
pub struct Oidc {
    settings: OidcSettings,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    http: openidconnect::reqwest::Client,
    db: Db,
    clock: Arc<dyn Clock>,
}

impl Oidc {
    /// Logins against the provider in `settings`; pending logins kept in `db`.
    pub fn new(settings: OidcSettings, db: Db, clock: Arc<dyn Clock>) -> Result<Self, OidcError> {
        let issuer =
            IssuerUrl::new(settings.issuer.clone()).map_err(|e| OidcError::Provider(format!("issuer: {e}")))?;
        let redirect = RedirectUrl::new(settings.redirect_url.clone())
            .map_err(|e| OidcError::Provider(format!("redirect: {e}")))?;
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects would let a provider's answer send Kurslogg anywhere.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| OidcError::Provider(e.to_string()))?;
        Ok(Self { settings, issuer, redirect, http, db, clock })
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The provider's metadata and keys, and a client for them.
    async fn client(&self) -> Result<ProviderClient, OidcError> {
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| OidcError::Provider(format!("discovery at {}: {e}", self.settings.issuer)))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.expose().to_string())),
        )
        .set_redirect_uri(self.redirect.clone()))
    }

    /// Begins a login: where to send the browser, and the state to remember in its cookie.
    pub async fn start(&self) -> Result<Started, OidcError> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request =
            client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
        if let Some(scope) = self.settings.login_claim.scope() {
            request = request.add_scope(Scope::new(scope.to_string()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let stale = stamp(now - Duration::minutes(PENDING_MINUTES));
        tx.execute("DELETE FROM oidc_logins WHERE created_at < $1", &[stale.into()]).await?;
        tx.execute(
            "INSERT INTO oidc_logins (state_hash, nonce, pkce_verifier, created_at) VALUES ($1, $2, $3, $4)",
            &[
                sha256_hex(state.secret()).into(),
                nonce.secret().clone().into(),
                verifier.secret().clone().into(),
                stamp(now).into(),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(Started { authorize_url: url.to_string(), state: state.secret().clone() })
    }

    /// Forgets a login the provider refused, so its state cannot be played again.
    pub async fn abandon(&self, state: &str) -> Result<(), OidcError> {
        self.take_pending(state).await.map(|_| ())
    }

    /// The nonce and PKCE verifier of the pending login with `state`, removed: a state is
    /// used once, whatever happens next.
    async fn take_pending(&self, state: &str) -> Result<(Nonce, PkceCodeVerifier), OidcError> {
        let mut tx = self.db.begin().await?;
        let rows = tx
            .fetch(
                "DELETE FROM oidc_logins WHERE state_hash = $1 RETURNING nonce, pkce_verifier, created_at",
                &[sha256_hex(state).into()],
            )
            .await?;
        tx.commit().await?;
        let row = rows.first().ok_or_else(|| {
            OidcError::BadReturn("this login is unknown or already used; begin again at /auth/oidc/login".into())
        })?;
        let begun = DateTime::parse_from_rfc3339(&row.text(2)).map(|at| at.with_timezone(&Utc)).ok();
        if begun.is_none_or(|at| self.now() - at > Duration::minutes(PENDING_MINUTES)) {
            return Err(OidcError::BadReturn(format!(
                "this login took longer than {PENDING_MINUTES} minutes; begin again at /auth/oidc/login"
            )));
        }
        Ok((Nonce::new(row.text(0)), PkceCodeVerifier::new(row.text(1))))
    }

    /// Finishes a login the provider sent back with `code`: the verified login name.
    pub async fn finish(&self, state: &str, code: &str) -> Result<String, OidcError> {
        let (nonce, verifier) = self.take_pending(state).await?;

        let client = self.client().await?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Provider(e.to_string()))?
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Refused(format!("the code was not accepted: {e}")))?;
        let id_token = tokens.id_token().ok_or_else(|| OidcError::Refused("no ID token in the answer".into()))?;
        let verifier = client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &nonce)
            .map_err(|e| OidcError::Refused(format!("the ID token did not verify: {e}")))?;
        // The access token fetches the user info below: it must be the one the ID token was issued with.
        if let Some(expected) = claims.access_token_hash() {
            let signing = id_token.signing_alg().and_then(|alg| Ok((alg, id_token.signing_key(&verifier)?)));
            let actual = signing.map_err(|e| OidcError::Refused(e.to_string())).and_then(|(alg, key)| {
                AccessTokenHash::from_token(tokens.access_token(), alg, key)
                    .map_err(|e| OidcError::Refused(e.to_string()))
            })?;
            if actual != *expected {
                return Err(OidcError::Refused("the access token does not belong to the ID token".into()));
            }
        }
        let email = claims.email().map(|e| e.as_str());
        let username = claims.preferred_username().map(|u| u.as_str());
        if let Some(login) = self.login_of(claims.subject().as_str(), email, claims.email_verified(), username)? {
            return Ok(login);
        }
        // Providers that follow the specification to the letter put scope claims in the
        // user info only, not in the ID token.
        let info: CoreUserInfoClaims = client
            .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
            .map_err(|_| OidcError::Refused(self.missing_claim()))?
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Provider(format!("user info: {e}")))?;
        let (email, username) = (info.email().map(|e| e.as_str()), info.preferred_username().map(|u| u.as_str()));
        let login = self.login_of(info.subject().as_str(), email, info.email_verified(), username)?;
        login.ok_or_else(|| OidcError::Refused(self.missing_claim()))
    }

    /// The configured claim among those the provider said (in the ID token or the user info).
    fn login_of(
        &self,
        subject: &str,
        email: Option<&str>,
        email_verified: Option<bool>,
        preferred_username: Option<&str>,
    ) -> Result<Option<String>, OidcError> {
        Ok(match self.settings.login_claim {
            LoginClaim::Email => verified_email(email, email_verified)?,
            LoginClaim::PreferredUsername => preferred_username.map(str::to_string),
            LoginClaim::Subject => Some(subject.to_string()),
        })
    }

    fn missing_claim(&self) -> String {
        format!("the identity provider did not say the {} of this user", self.settings.login_claim.name())
    }
}

/// An e-mail claim, refused when the provider says it is not verified (anyone could type
/// someone else's address into a self-service account).
fn verified_email(email: Option<&str>, verified: Option<bool>) -> Result<Option<String>, OidcError> {
    match (email, verified) {
        (Some(_), Some(false)) => Err(OidcError::Refused("the identity provider has not verified this e-mail".into())),
        (email, _) => Ok(email.map(str::to_string)),
    }
}
