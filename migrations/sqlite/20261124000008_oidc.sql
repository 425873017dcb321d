-- Issue 6: logging in through the municipality's identity provider (OpenID Connect).
--
-- A login begun at the provider and not yet back: the browser carries the state in a
-- cookie and in the provider's redirect; the nonce and the PKCE verifier stay here, so
-- that any instance can finish the login. A row is used once (deleted when the browser
-- comes back) and is worthless after ten minutes.
CREATE TABLE IF NOT EXISTS oidc_logins
(
    -- SHA-256 of the state (the state itself is a bearer secret while the login is open).
    state_hash    text PRIMARY KEY,
    nonce         text NOT NULL,
    pkce_verifier text NOT NULL,
    created_at    text NOT NULL
);
