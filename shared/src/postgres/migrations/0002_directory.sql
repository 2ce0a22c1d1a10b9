-- The directory, policies, sessions and tenants' Slack apps (as the embedded `directory.db` and
-- `sessions.db` keep them). Names compare byte for byte (COLLATE "C"), as SQLite's do; times
-- are Unix milliseconds.

-- One row per principal; its JSON body as stored. `folded` is its name in lower case (ASCII,
-- as `folded_name` folds): unique within a tenant, so `Alice` and `alice` cannot both be
-- added, even by two creates at once.
CREATE TABLE principals (
    tenant text COLLATE "C" NOT NULL,
    name   text COLLATE "C" NOT NULL,
    folded text COLLATE "C" NOT NULL,
    body   text NOT NULL,
    PRIMARY KEY (tenant, name),
    CONSTRAINT principals_folded UNIQUE (tenant, folded)
);

-- One row per lookup a principal is found by: `key#{sha256}`, `arn#{ARN}`,
-- `slack#{tenant}/{user}`. The primary key keeps each to one principal; removing the principal
-- removes its lookups.
CREATE TABLE credentials (
    lookup text COLLATE "C" PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL,
    name   text COLLATE "C" NOT NULL,
    FOREIGN KEY (tenant, name) REFERENCES principals (tenant, name) ON DELETE CASCADE
);
CREATE INDEX credentials_of ON credentials (tenant, name);

-- Every version of each tenant's policy.
CREATE TABLE policies (
    tenant  text COLLATE "C" NOT NULL,
    version bigint NOT NULL CHECK (version > 0),
    body    text NOT NULL,
    PRIMARY KEY (tenant, version)
);

-- Sign-in requests counted per folded name in a window (ended ones purged per tenant).
CREATE TABLE sign_in_requests (
    tenant     text COLLATE "C" NOT NULL,
    name       text COLLATE "C" NOT NULL,
    window_end bigint NOT NULL,
    count      integer NOT NULL,
    PRIMARY KEY (tenant, name)
);

-- Sign-in links and sessions, by the SHA-256 of their secret (never the secret).
CREATE TABLE sign_in_links (
    hash    text COLLATE "C" PRIMARY KEY,
    expires bigint NOT NULL,
    body    text NOT NULL
);
CREATE INDEX sign_in_links_expires ON sign_in_links (expires);

CREATE TABLE sessions (
    tenant  text COLLATE "C" NOT NULL,
    name    text COLLATE "C" NOT NULL,
    hash    text COLLATE "C" NOT NULL,
    expires bigint NOT NULL,
    body    text NOT NULL,
    PRIMARY KEY (tenant, name, hash)
);
CREATE INDEX sessions_expires ON sessions (expires);

-- Slack buttons spent (their nonce), kept until the button's own end.
CREATE TABLE spent_buttons (
    nonce   text COLLATE "C" PRIMARY KEY,
    tenant  text COLLATE "C" NOT NULL,
    expires bigint NOT NULL
);
CREATE INDEX spent_buttons_expires ON spent_buttons (expires);

-- Tenants' Slack apps: the bot token and signing secret, as `holdpoint slack connect` took them.
CREATE TABLE slack_apps (
    tenant         text COLLATE "C" PRIMARY KEY,
    team_id        text,
    bot_token      text NOT NULL,
    signing_secret text NOT NULL
);
