//! A real OpenID Connect provider for the tests: `tests/oidc/provider.mjs`, panva's
//! oidc-provider (OpenID Certified) under Node.js, in a process of its own on a port of
//! its own. Its login page takes who logs in from the test instead of from a person.
//! `scripts/test` installs its Node packages (`npm ci` in `tests/oidc`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Kurslogg's registration at the test provider.
pub const CLIENT_ID: &str = "kurslogg";
/// Its client secret.
pub const CLIENT_SECRET: &str = "kurslogg-test-secret";

/// A running provider.
pub struct IdentityProvider {
    /// `http://127.0.0.1:<port>`: its issuer URL.
    pub issuer: String,
    child: Child,
}

/// The provider's directory (script and Node packages).
pub fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc")
}

/// The Node.js binary (`KURSLOGG_TEST_NODE`, default `node`).
pub fn node() -> String {
    std::env::var("KURSLOGG_TEST_NODE").ok().filter(|n| !n.is_empty()).unwrap_or_else(|| "node".into())
}

impl IdentityProvider {
    /// Starts a provider that sends logins back to `redirect_uri`. Accounts are e-mail
    /// addresses; those in `unverified` have an e-mail the provider has not verified.
    pub fn start(redirect_uri: &str, unverified: &[&str]) -> Self {
        let dir = provider_dir();
        assert!(
            dir.join("node_modules").join("oidc-provider").is_dir(),
            "the test identity provider's packages are missing: run `npm ci` in {} (scripts/test does)",
            dir.display()
        );
        let mut command = Command::new(node());
        command
            .current_dir(&dir)
            .arg("provider.mjs")
            .args(["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET, "--redirect-uri", redirect_uri])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for account in unverified {
            command.args(["--unverified", account]);
        }
        let mut child =
            command.spawn().unwrap_or_else(|e| panic!("cannot start {} for the identity provider: {e}", node()));
        let stdout = child.stdout.take().expect("the provider's output");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(issuer) = line.strip_prefix("issuer ") {
                    let _ = tx.send(issuer.to_string());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(issuer) => Self { issuer, child },
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                panic!("the test identity provider did not start within 30 s ({status}); try `node tests/oidc/provider.mjs`")
            }
        }
    }

    /// Kurslogg's settings for this provider, with `login_claim` as the login name.
    pub fn settings(
        &self,
        redirect_uri: &str,
        login_claim: kurslogg::oidc::LoginClaim,
    ) -> kurslogg::oidc::OidcSettings {
        kurslogg::oidc::OidcSettings {
            issuer: self.issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: kurslogg::config::Secret::new(CLIENT_SECRET),
            redirect_url: redirect_uri.into(),
            login_claim,
        }
    }

    /// Stops the provider (an identity provider that is down).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for IdentityProvider {
    fn drop(&mut self) {
        self.stop();
    }
}
