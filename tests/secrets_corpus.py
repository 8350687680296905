"""Labelled corpus of Lambda environment variables for the secrets detector.

Every secret-shaped value is generated here at import time from a fixed seed, so
the repository holds no real-looking secret literal (push protection and secret
scanners stay quiet) while the corpus stays deterministic. The only literal key
id is AWS's documented example. Labels are honest: a few real secrets are known
misses (`expected=None` on a secret case) rather than tuning the corpus to 100%.

Also read by scripts/evaluate-detect-secrets.py, so it must stay stdlib-only.
"""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass, field

ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
LOWER = string.ascii_lowercase
LOWER_DIGITS = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
PASSWORD_CHARS = ALNUM + "!#%^&*-_=+.~"


def fake(prefix: str, length: int, alphabet: str = ALNUM, seed: int = 0) -> str:
    """`prefix` followed by `length` characters drawn from `alphabet`, seeded."""
    rng = random.Random(seed)
    return prefix + "".join(rng.choice(alphabet) for _ in range(length))


def fake_uuid(seed: int) -> str:
    h = fake("", 32, HEX, seed)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def b64url(obj: object) -> str:
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def fake_jwt(seed: int, alg: str = "HS256") -> str:
    header = b64url({"alg": alg, "typ": "JWT"})
    payload = b64url({"sub": fake("user-", 6, LOWER_DIGITS, seed), "iat": 1700000000 + seed})
    return f"{header}.{payload}.{fake('', 43, B64URL, seed + 1)}"


def fake_pem(label: str, seed: int, *, escaped: bool = False, lines: int = 6) -> str:
    """A PEM-shaped block with a random body (not a key at all)."""
    begin, end = "-----" + "BEGIN ", "-----" + "END "
    body = [fake("", 64, B64, seed + i) for i in range(lines)]
    text = "\n".join([f"{begin}{label}-----", *body, f"{end}{label}-----"])
    return text.replace("\n", "\\n") if escaped else text


def _key(label: str = "") -> str:
    """A private-key PEM label, assembled so this file holds no literal header."""
    return " ".join(part for part in (label, "PRIVATE", "KEY") if part)


@dataclass(frozen=True)
class Case:
    """One variable. `expected` is the kind we report (None: not reported); `path` for JSON."""

    name: str
    value: str = field(repr=False)
    secret: bool
    note: str
    expected: str | None = None
    path: str | None = None


def _pw(seed: int, length: int = 18) -> str:
    return fake("", length, PASSWORD_CHARS, seed)


_ENTROPY = "high-entropy value in a secret-named variable"
_URL = "URL with credentials"
_EXAMPLE_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"  # AWS's documented example key id

SECRETS: list[Case] = [
    # AWS
    Case("AWS_ACCESS_KEY_ID", _EXAMPLE_KEY_ID, True, "documented example id", "AWS access key id"),
    Case(
        "S3_UPLOADER",
        fake("AKIA", 16, UPPER_DIGITS, 2),
        True,
        "key id, neutral name",
        "AWS access key id",
    ),
    Case(
        "STS_SESSION_KEY_ID",
        fake("ASIA", 16, UPPER_DIGITS, 3),
        True,
        "temporary key id under a metadata-like name",
        "AWS access key id",
    ),
    Case(
        "AWS_SECRET_ACCESS_KEY",
        fake("", 40, B64, 4),
        True,
        "40-char secret key",
        "AWS secret access key",
    ),
    Case("BACKUP_AWS_KEY", fake("", 40, B64, 5), True, "AWS + KEY name", "AWS secret access key"),
    Case(
        "BOOTSTRAP_CONFIG",
        f"AccessKeyId={fake('AKIA', 16, UPPER_DIGITS, 6)};SecretAccessKey={fake('', 40, B64, 7)}",
        True,
        "inline credential pair",
        "AWS access key id",
    ),
    # PEM private keys
    Case(
        "SSH_PRIVATE_KEY",
        fake_pem(_key("RSA"), 10),
        True,
        "PEM with real newlines",
        "private key (PEM)",
    ),
    Case(
        "TLS_KEY",
        fake_pem(_key("EC"), 20, escaped=True),
        True,
        "PEM, newlines escaped",
        "private key (PEM)",
    ),
    Case("DEPLOY_KEY", fake_pem(_key("OPENSSH"), 30), True, "OpenSSH key", "private key (PEM)"),
    Case(
        "GATEWAY_KEY_B64",
        b64(fake_pem(_key("EC"), 40)),
        True,
        "base64 of a PEM key",
        "private key (PEM)",
    ),
    Case(
        "GCP_SERVICE_ACCOUNT",
        json.dumps(
            {
                "type": "service_account",
                "project_id": "demo-project",
                "private_key_id": fake("", 40, HEX, 50),
                "private_key": fake_pem(_key(), 51) + "\n",
                "client_email": "svc@demo-project.iam.gserviceaccount.com",
            }
        ),
        True,
        "service-account JSON",
        "private key (PEM)",
        "GCP_SERVICE_ACCOUNT.private_key",
    ),
    # JWTs
    Case("AUTH_JWT", fake_jwt(60), True, "signed JWT", "JWT"),
    Case("SERVICE_IDENTITY", fake_jwt(61, "RS256"), True, "JWT under a neutral name", "JWT"),
    Case("DEFAULT_AUTH_HEADER", "Bearer " + fake_jwt(62), True, "bearer JWT", "JWT"),
    # GitHub / GitLab / npm
    Case("GITHUB_TOKEN", fake("ghp_", 36, ALNUM, 70), True, "classic PAT", "GitHub token"),
    Case(
        "GH_APP_INSTALL",
        fake("ghs_", 36, ALNUM, 71),
        True,
        "app token, neutral name",
        "GitHub token",
    ),
    Case(
        "CI_PAT",
        fake("github_pat_", 22, ALNUM, 72) + fake("_", 59, ALNUM, 73),
        True,
        "fine-grained PAT",
        "GitHub token",
    ),
    Case(
        "OAUTH_CONFIG",
        json.dumps(
            {
                "provider": "github",
                "client_id": fake("Iv1.", 16, HEX, 78),
                "token": fake("gho_", 36, ALNUM, 74),
            }
        ),
        True,
        "OAuth token inside JSON",
        "GitHub token",
        "OAUTH_CONFIG.token",
    ),
    Case("OLD_GH_TOKEN", fake("", 40, HEX, 75), True, "legacy 40-hex token, secret name", _ENTROPY),
    Case("GITLAB_TOKEN", fake("glpat-", 20, B64URL, 76), True, "GitLab PAT", "GitLab token"),
    Case("NPM_TOKEN", fake("npm_", 36, ALNUM, 77), True, "npm automation token", "npm token"),
    # Slack
    Case(
        "SLACK_BOT_TOKEN",
        f"xoxb-{fake('', 12, string.digits, 80)}-{fake('', 13, string.digits, 81)}-"
        f"{fake('', 24, ALNUM, 82)}",
        True,
        "bot token",
        "Slack token",
    ),
    Case(
        "SLACK_USER_TOKEN",
        f"xoxp-{fake('', 12, string.digits, 83)}-{fake('', 12, string.digits, 84)}-"
        f"{fake('', 32, HEX, 85)}",
        True,
        "user token",
        "Slack token",
    ),
    Case(
        "ALERT_WEBHOOK_URL",
        f"https://hooks.slack.com/services/{fake('T', 10, UPPER_DIGITS, 86)}/"
        f"{fake('B', 10, UPPER_DIGITS, 87)}/{fake('', 24, ALNUM, 88)}",
        True,
        "incoming webhook under a *_URL name",
        "Slack webhook URL",
    ),
    # Stripe
    Case(
        "STRIPE_SECRET_KEY",
        fake("sk_live_", 24, ALNUM, 90),
        True,
        "live secret key",
        "Stripe secret key",
    ),
    Case(
        "STRIPE_TEST_KEY",
        fake("sk_test_", 24, ALNUM, 91),
        True,
        "test secret key: still a credential to a real account",
        "Stripe secret key",
    ),
    Case(
        "STRIPE_RESTRICTED",
        fake("rk_live_", 24, ALNUM, 92),
        True,
        "restricted key",
        "Stripe secret key",
    ),
    Case(
        "STRIPE_WEBHOOK_SECRET",
        fake("whsec_", 32, ALNUM, 93),
        True,
        "webhook signing secret",
        "Stripe webhook secret",
    ),
    # Google / SendGrid / Twilio
    Case("MAPS_API_KEY", fake("AIza", 35, B64URL, 100), True, "Google API key", "Google API key"),
    Case(
        "FIREBASE_CONFIG",
        json.dumps(
            {
                "apiKey": fake("AIza", 35, B64URL, 101),
                "authDomain": "demo.firebaseapp.com",
                "projectId": "demo",
            }
        ),
        True,
        "API key inside JSON",
        "Google API key",
        "FIREBASE_CONFIG.apiKey",
    ),
    Case(
        "SENDGRID_API_KEY",
        fake("SG.", 22, B64URL, 102) + fake(".", 43, B64URL, 103),
        True,
        "SendGrid key",
        "SendGrid API key",
    ),
    Case(
        "TWILIO_AUTH_TOKEN", fake("", 32, HEX, 104), True, "32-hex auth token", "Twilio auth token"
    ),
    Case(
        "TWILIO_API_KEY",
        fake("SK", 32, HEX, 105),
        True,
        "key SID under a secret name (its secret sits next to it)",
        "Twilio key SID in a secret-named variable",
    ),
    Case("TWILIO_API_SECRET", fake("", 32, ALNUM, 106), True, "API key secret", _ENTROPY),
    # URLs with credentials
    Case("DATABASE_URL", f"postgres://app:{_pw(110)}@db.internal:5432/app", True, "postgres", _URL),
    Case(
        "REDIS_URL", f"redis://:{_pw(111)}@cache.internal:6379/0", True, "redis, empty user", _URL
    ),
    Case("BROKER_URL", f"amqp://worker:{_pw(112)}@mq.internal:5672/jobs", True, "amqp", _URL),
    Case(
        "MONGO_URI",
        f"mongodb+srv://svc:{_pw(113)}@cluster0.example.mongodb.net/db?retryWrites=true",
        True,
        "mongodb+srv",
        _URL,
    ),
    Case(
        "SMTP_URL",
        "smtps://mailer:password@smtp.example.com:465",
        True,
        "a weak password is still a password",
        _URL,
    ),
    Case(
        "NOTIFY_HOOK",
        f"https://hooks.example.com/notify?token={fake('', 32, ALNUM, 114)}",
        True,
        "token in the query string",
        _URL,
    ),
    # Secret-named variables holding high-entropy literals
    Case("DB_PASSWORD", _pw(120, 16), True, "generated password", _ENTROPY),
    Case("RDS_MASTER_PASSWORD", "Tr0ub4dor&3", True, "short mixed password", _ENTROPY),
    Case("API_KEY", fake("", 32, ALNUM, 121), True, "opaque API key", _ENTROPY),
    Case("serviceApiKey", fake("", 40, ALNUM, 122), True, "camelCase name", _ENTROPY),
    Case("JWT_SECRET", fake("", 64, HEX, 123), True, "hex HMAC secret", _ENTROPY),
    Case("SESSION_SECRET", fake("", 48, B64, 124), True, "base64 secret", _ENTROPY),
    Case("CLIENT_SECRET", fake("", 40, B64URL, 125), True, "OAuth client secret", _ENTROPY),
    Case(
        "ENCRYPTION_KEY",
        base64.b64encode(random.Random(126).randbytes(32)).decode(),
        True,
        "base64 of 32 random bytes",
        _ENTROPY,
    ),
    Case(
        "DJANGO_SECRET_KEY",
        fake("", 50, PASSWORD_CHARS, 127),
        True,
        "framework secret key",
        _ENTROPY,
    ),
    Case("HMAC_SIGNING_KEY", fake("", 64, HEX, 128), True, "signing key", _ENTROPY),
    Case("PRIVATE_KEY_PASSPHRASE", "c0rrect-H0rse-b@ttery", True, "leet passphrase", _ENTROPY),
    Case("LDAP_BIND_PWD", _pw(129, 10), True, "10-char password", _ENTROPY),
    Case("DB_PASS", _pw(130, 12), True, "*_PASS name", _ENTROPY),
    Case("HEROKU_API_KEY", fake_uuid(131), True, "UUID-shaped API key", _ENTROPY),
    Case(
        "UPSTREAM_AUTHORIZATION",
        "Bearer " + fake("", 40, ALNUM, 132),
        True,
        "opaque bearer token",
        "credential in an Authorization value",
    ),
    Case(
        "DB_CONFIG",
        json.dumps({"host": "db.internal", "port": 5432, "user": "app", "password": _pw(133)}),
        True,
        "password inside JSON",
        _ENTROPY,
        "DB_CONFIG.password",
    ),
    Case(
        "APP_SETTINGS",
        b64(json.dumps({"db": {"host": "db.internal", "password": _pw(134)}, "debug": False})),
        True,
        "password inside base64 JSON",
        _ENTROPY,
        "APP_SETTINGS.db.password",
    ),
    Case(
        "FEATURE_CONFIG",
        json.dumps(
            {
                "integrations": {
                    "payments": {"stripe": {"secret_key": fake("sk_live_", 24, ALNUM, 135)}}
                }
            }
        ),
        True,
        "key four levels deep",
        "Stripe secret key",
        "FEATURE_CONFIG.integrations.payments.stripe.secret_key",
    ),
    Case(
        "SERVICE_CREDENTIALS",
        json.dumps({"endpoint": "https://api.partner.example", "apiKey": fake("", 32, ALNUM, 136)}),
        True,
        "api key inside JSON",
        _ENTROPY,
        "SERVICE_CREDENTIALS.apiKey",
    ),
    Case(
        "AZURE_STORAGE_CONNECTION_STRING",
        "DefaultEndpointsProtocol=https;AccountName=demo;"
        f"AccountKey={fake('', 86, B64, 142)}==;EndpointSuffix=core.windows.net",
        True,
        "connection string",
        "secret in a key=value setting",
    ),
    Case(
        "SQLSERVER_CONN",
        f"Server=db.internal;Database=app;User Id=sa;Password={_pw(143, 14)};",
        True,
        "ADO.NET string, neutral name",
        "secret in a key=value setting",
    ),
    # Honest misses: real secrets without a format or a random-looking literal.
    Case("ADMIN_PASSWORD", "Summer2024", True, "dictionary word + year: word-like, missed"),
    Case("MYSQL_ROOT_PASSWORD", "changeme", True, "single word, missed"),
    Case("PASSPHRASE", "correct horse battery staple", True, "words with spaces, missed"),
    Case("VENDOR_API_KEY", fake("", 24, LOWER, 140), True, "one character class, missed"),
    Case("PARTNER_AUTH", fake("", 32, ALNUM, 141), True, "no secret word in the name, missed"),
]

_ACCOUNT = "123456789012"
NOT_SECRETS: list[Case] = [
    # The ones other scanners are known to trip on.
    Case(
        "DB_SECRET_ARN",
        f"arn:aws:secretsmanager:us-east-1:{_ACCOUNT}:secret:prod/app/db-{fake('', 6, ALNUM, 200)}",
        False,
        "Secrets Manager ARN",
    ),
    Case("SECRET_NAME", "prod/app/db", False, "secret name"),
    Case("PASSWORD_MIN_LENGTH", "12", False, "number"),
    Case("MYSQL_ALLOW_EMPTY_PASSWORD", "yes", False, "boolean"),
    Case("GIT_SHA", fake("", 40, HEX, 201), False, "commit id"),
    Case("COMMIT_SHORT", fake("", 7, HEX, 202), False, "short commit id"),
    Case(
        "APP_CONFIG_B64",
        b64(
            json.dumps(
                {"featureFlags": {"newCheckout": True}, "logLevel": "info", "region": "eu-west-1"}
            )
        ),
        False,
        "base64 JSON configuration",
    ),
    Case(
        "TOKEN_SETTINGS",
        b64(json.dumps({"ttl": 3600, "issuer": "https://auth.example.com"})),
        False,
        "base64 JSON under a token name",
    ),
    Case(
        "TOKEN_HEADER_B64",
        b64url({"alg": "RS256", "typ": "JWT"}),
        False,
        "a lone base64 JWT header is not a JWT",
    ),
    # References
    Case("DB_PASSWORD_PARAM", "/prod/app/db-password", False, "SSM parameter path"),
    Case("API_KEY_SSM", "/prod/payments/api-key", False, "SSM path under a secret name"),
    Case("SECRET_ID", "prod/app/db-password", False, "secret name with slashes"),
    Case(
        "DB_PASSWORD_RESOLVE",
        "{{resolve:secretsmanager:prod/app/db:SecretString:password}}",
        False,
        "dynamic reference",
    ),
    Case("API_TOKEN", "${ssm:/prod/api/token}", False, "framework reference"),
    Case("DB_PASSWORD_REF", "${DB_PASSWORD}", False, "placeholder"),
    Case(
        "SIGNING_SECRET_ARN",
        f"arn:aws:ssm:eu-west-1:{_ACCOUNT}:parameter/prod/signing-secret",
        False,
        "SSM parameter ARN",
    ),
    Case(
        "DATABASE_URL_TEMPLATE",
        "postgres://app:${DB_PASSWORD}@db.internal:5432/app",
        False,
        "URL with a placeholder password",
    ),
    Case(
        "ENCRYPTION_KEY_ARN",
        f"arn:aws:kms:us-east-1:{_ACCOUNT}:key/{fake_uuid(203)}",
        False,
        "KMS key ARN",
    ),
    # URLs, hosts, e-mail, paths
    Case("SERVICE_URL", "https://api.example.com/v1/", False, "URL without credentials"),
    Case("READ_REPLICA_URL", "postgres://db-replica.internal:5432/app", False, "no userinfo"),
    Case("TOKEN_ENDPOINT", "https://auth.example.com/oauth2/token", False, "token URL"),
    Case(
        "TOKEN_ISSUER",
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab12Cd34E",
        False,
        "issuer URL",
    ),
    Case(
        "SENTRY_DSN",
        f"https://{fake('', 32, HEX, 204)}@o123456.ingest.sentry.io/4504",
        False,
        "DSN public key, no password",
    ),
    Case(
        "DATABASE_HOST", "db.cluster-c9akciq32xyz.eu-west-1.rds.amazonaws.com", False, "host name"
    ),
    Case("SUPPORT_EMAIL", "security@example.com", False, "e-mail"),
    Case("PASSWORD_RESET_SENDER", "no-reply@example.com", False, "e-mail under a password name"),
    Case("CERT_PATH", "/var/task/certs/ca-bundle.pem", False, "file path"),
    Case("PRIVATE_KEY_FILE", "/opt/keys/signing-key.pem", False, "path to a key file"),
    Case("AWS_LAMBDA_EXEC_WRAPPER", "/opt/otel-instrument", False, "wrapper path"),
    # Token-named metadata
    Case("TOKEN_TTL", "3600", False, "number"),
    Case("TOKEN_EXPIRY", "15m", False, "duration"),
    Case("AUTH_HEADER", "Authorization", False, "header name"),
    Case("API_KEY_HEADER", "X-Api-Key", False, "header name"),
    Case("AUTH_TOKEN_HEADER", "X-Auth-Token", False, "header name"),
    Case("TOKEN_PREFIX", "Bearer", False, "scheme word"),
    Case("TOKEN_CACHE_ENABLED", "true", False, "boolean"),
    Case("SECRET_ROTATION_DAYS", "30", False, "number"),
    Case("SECRETS_MANAGER_REGION", "us-east-1", False, "region"),
    Case("SECRET_VERSION_STAGE", "AWSCURRENT", False, "version stage"),
    Case("PASSWORD_HASH_ALGORITHM", "argon2id", False, "algorithm name"),
    Case("JWT_ALGORITHM", "RS256", False, "algorithm name"),
    Case("AUTH_PROVIDER", "CognitoUserPool", False, "CamelCase word"),
    Case("DEPLOY_TOKEN_NAME", "ci-deployer", False, "kebab name"),
    Case("GITHUB_TOKEN_SCOPES", "repo,read:org", False, "scopes"),
    Case("OAUTH_SCOPES", "openid profile email", False, "scopes"),
    Case("TOKEN_AUDIENCE", "api://default", False, "audience URI"),
    Case("PASSWORD_POLICY", "min12-upper-lower-digit", False, "policy words"),
    Case("MAX_TOKENS", "4096", False, "number"),
    Case("TOKENIZER_MODEL", "bert-base-uncased", False, "'token' inside another word"),
    Case("SECRETS_EXTENSION_HTTP_PORT", "2773", False, "port"),
    Case("PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED", "TRUE", False, "boolean"),
    Case("API_KEY_ID", fake("", 10, LOWER_DIGITS, 205), False, "key *id*, not the key"),
    Case(
        "ENCRYPTED_DB_PASSWORD",
        "AQICAH" + fake("", 178, B64, 206) + "==",
        False,
        "KMS ciphertext (Lambda encryption helper): not plaintext",
    ),
    Case("DB_PASSWORD_PLACEHOLDER", "<replace-me>", False, "placeholder"),
    Case("API_KEY_EXAMPLE", "your-api-key-here", False, "placeholder words"),
    Case("MASKED_SECRET", "********", False, "masked value"),
    Case(
        "PASSWORD_REGEX",
        "^(?=.*[A-Z])(?=.*\\d).{12,}$",
        False,
        "a pattern, not a password: known false positive",
        _ENTROPY,
    ),
    # KMS, ids, misc
    Case("KMS_KEY_ID", fake_uuid(207), False, "KMS key id"),
    Case("KMS_KEY_ALIAS", "alias/app-secrets", False, "KMS alias"),
    Case("REQUEST_ID", fake_uuid(208), False, "UUID request id"),
    Case("LOG_LEVEL", "DEBUG", False, "log level"),
    Case(
        "STRIPE_PUBLISHABLE_KEY",
        fake("pk_live_", 24, ALNUM, 209),
        False,
        "publishable key is public by design",
    ),
    Case("COGNITO_CLIENT_ID", fake("", 26, LOWER_DIGITS, 210), False, "public client id"),
    Case("TWILIO_ACCOUNT_SID", fake("AC", 32, HEX, 211), False, "account SID, non-secret name"),
    Case("DOCKER_IMAGE_DIGEST", "sha256:" + fake("", 64, HEX, 212), False, "image digest"),
    Case("JWT_PUBLIC_KEY", fake_pem("PUBLIC KEY", 213), False, "public key"),
    Case("TLS_CERT", fake_pem("CERTIFICATE", 214, escaped=True), False, "certificate"),
    Case(
        "FEATURE_FLAGS",
        json.dumps({"darkMode": True, "betaUsers": ["alice", "bob"]}),
        False,
        "JSON config",
    ),
    Case("AWS_REGION", "eu-central-1", False, "region"),
    Case("CACHE_KEY_PREFIX", "v2:users:", False, "'key' alone is not secret"),
    Case("RELEASED_AT", "2024-05-06T17:46:00Z", False, "timestamp"),
    Case("JAVA_TOOL_OPTIONS", "-XX:+TieredCompilation -XX:TieredStopAtLevel=1", False, "JVM flags"),
    Case("COGNITO_USER_POOL_ID", "us-east-1_Ab12Cd34E", False, "pool id"),
]

CASES: list[Case] = SECRETS + NOT_SECRETS
