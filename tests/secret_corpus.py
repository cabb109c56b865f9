"""Fake secrets in the formats they take in runbooks, logs, configs and shell history: one line (or a few)
per format, and the secret values that must not survive redaction. Values are made up, shaped like the
real ones (prefix, alphabet, length); generated from a fixed seed so failures are reproducible."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

_random = random.Random(20240514)
DIGITS = string.digits
HEX = "0123456789abcdef"
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"


def fake(alphabet: str, length: int) -> str:
    return "".join(_random.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class Sample:
    format: str
    text: str
    secrets: tuple[str, ...]


def _samples() -> list[Sample]:
    out: list[Sample] = []

    def add(format: str, text: str, *secrets: str) -> None:
        out.append(Sample(format, text, secrets))

    v = fake(DIGITS, 12) + "-" + fake(DIGITS, 13) + "-" + fake(ALNUM, 24)
    add("Slack bot token", f"SLACK_BOT_TOKEN=xoxb-{v}", f"xoxb-{v}")
    v = "xoxp-" + fake(DIGITS, 12) + "-" + fake(DIGITS, 12) + "-" + fake(DIGITS, 13) + "-" + fake(HEX, 32)
    add("Slack user token", f"posting as the user with {v} failed", v)
    v = "xapp-1-A" + fake(DIGITS, 10) + "-" + fake(DIGITS, 13) + "-" + fake(HEX, 64)
    add("Slack app-level token", f"export SLACK_APP_TOKEN='{v}'", v)
    v = f"https://hooks.slack.com/services/T{fake(ALNUM, 8)}/B{fake(ALNUM, 10)}/{fake(ALNUM, 24)}"
    add("Slack incoming webhook", f"curl -X POST -d @payload.json {v}", v.rsplit("/", 1)[1])
    v = "ghp_" + fake(ALNUM, 36)
    add("GitHub classic PAT", f"git clone https://{v}@github.com/acme/runbooks.git", v)
    v = "github_pat_" + fake(ALNUM, 22) + "_" + fake(ALNUM, 59)
    add("GitHub fine-grained PAT", f"GH_TOKEN: {v}", v)
    v = "ghs_" + fake(ALNUM, 36)
    add("GitHub app installation token", f"2024-05-14 10:00:01 DEBUG using installation token {v}", v)
    v = "glpat-" + fake(URLSAFE, 20)
    add("GitLab personal access token", f"curl --header 'PRIVATE-TOKEN: {v}' https://gitlab.acme.io/api/v4/projects",
        v)
    v = "GR1348941" + fake(URLSAFE, 20)
    add("GitLab runner registration token", f"gitlab-runner register --registration-token {v}", v)
    v = "sk_live_" + fake(ALNUM, 24)
    add("Stripe secret key", f'stripe.api_key = "{v}"', v)
    v = "rk_live_" + fake(ALNUM, 24)
    add("Stripe restricted key", f"STRIPE_RESTRICTED={v}", v)
    v = "whsec_" + fake(ALNUM, 32)
    add("Stripe webhook secret", f"endpoint secret {v} rotated", v)
    v = "SK" + fake(HEX, 32)
    add("Twilio API key SID", f"twilio api:core:keys:fetch --sid {v}", v)
    v = fake(HEX, 32)
    add("Twilio auth token", f"TWILIO_AUTH_TOKEN={v}", v)
    v = "SG." + fake(URLSAFE, 22) + "." + fake(URLSAFE, 43)
    add("SendGrid API key", f"sendgrid: {{apiKey: {v}}}", v)
    v = "npm_" + fake(ALNUM, 36)
    add("npm access token", f"npm token: {v} (publish)", v)
    v = fake(HEX, 8) + "-" + fake(HEX, 4) + "-" + fake(HEX, 4) + "-" + fake(HEX, 4) + "-" + fake(HEX, 12)
    add(".npmrc auth token", f"//registry.npmjs.org/:_authToken={v}", v)
    v = "pypi-AgEIcHlwaS5vcmc" + fake(URLSAFE, 70)
    add("PyPI API token", f"twine upload -u __token__ -p {v} dist/*", v)
    v = "sk-proj-" + fake(URLSAFE, 48)
    add("OpenAI project key", f"OPENAI_API_KEY={v}", v)
    v = "sk-" + fake(ALNUM, 20) + "T3BlbkFJ" + fake(ALNUM, 20)
    add("OpenAI legacy key", f"openai.api_key = '{v}'", v)
    v = "sk-ant-api03-" + fake(URLSAFE, 93) + "AA"
    add("Anthropic API key", f"x-api-key: {v}", v)
    v = "AIza" + fake(URLSAFE, 35)
    add("Google API key", f"https://maps.googleapis.com/maps/api/geocode/json?address=x&key={v}", v)
    v = "GOCSPX-" + fake(URLSAFE, 28)
    add("Google OAuth client secret", f'"client_secret": "{v}",', v)
    v = "ya29." + fake(URLSAFE, 120)
    add("Google OAuth access token", f"gcloud auth print-access-token -> {v}", v)
    key = fake(B64, 64)
    add("GCP service account JSON key",
        '{"type": "service_account", "private_key_id": "' + fake(HEX, 40) + '", "private_key": "-----BEGIN PRIVATE '
        'KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC' + key + '\\n-----END PRIVATE KEY-----\\n", "client_email": '
        '"x@p.iam.gserviceaccount.com"}', key)
    v = "AKIA" + fake(string.ascii_uppercase + DIGITS, 16)
    add("AWS access key id", f"aws_access_key_id = {v}", v)
    v = fake(B64, 40)
    add("AWS secret access key", f"aws_secret_access_key = {v}", v)
    v = "IQoJb3JpZ2luX2Vj" + fake(B64, 200)
    add("AWS session token", f"export AWS_SESSION_TOKEN={v}", v)
    sig, token = fake(HEX, 64), "IQoJb3JpZ2lu" + fake(URLSAFE, 80)
    add("AWS SigV4 presigned URL",
        f"https://acme-logs.s3.amazonaws.com/app.log?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIA"
        f"{fake(string.ascii_uppercase, 16)}%2F20240514%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240514T100000Z"
        f"&X-Amz-Expires=3600&X-Amz-Security-Token={token}&X-Amz-SignedHeaders=host&X-Amz-Signature={sig}", sig, token)
    sig = fake(HEX, 256)
    add("GCS V4 signed URL",
        "https://storage.googleapis.com/acme/dump.sql?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=sa%40p"
        f".iam.gserviceaccount.com%2F20240514%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date=20240514T100000Z"
        f"&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature={sig}", sig)
    v = fake(B64, 86) + "=="
    add("Azure storage connection string",
        f"DefaultEndpointsProtocol=https;AccountName=acmelogs;AccountKey={v};EndpointSuffix=core.windows.net", v)
    v = fake(B64, 43).replace("+", "%2B").replace("/", "%2F") + "%3D"
    add("Azure SAS URL", f"https://acmelogs.blob.core.windows.net/app/a.log?sv=2022-11-02&ss=b&srt=o&sp=r"
        f"&se=2024-06-01T00:00:00Z&sig={v}", v)
    v = fake(B64, 43) + "="
    add("Azure Service Bus connection string",
        f"Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
        f"SharedAccessKey={v}", v)
    v = fake(URLSAFE, 3) + "8Q~" + fake(URLSAFE, 34)
    add("Azure AD client secret", f"az login --service-principal -u 00000000-app -p {v} --tenant acme", v)
    v = fake(HEX, 32)
    add("Datadog API key", f"DD_API_KEY={v} datadog-agent start", v)
    v = fake(HEX, 40)
    add("Datadog application key", f"-H 'DD-APPLICATION-KEY: {v}'", v)
    v = "hf_" + fake(string.ascii_letters, 34)
    add("Hugging Face token", f"huggingface-cli login --token {v}", v)
    v = "hvs." + fake(URLSAFE, 90)
    add("Vault token", f"export VAULT_TOKEN={v}", v)
    v = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIx" + fake(URLSAFE, 40) + "." + fake(URLSAFE, 86)
    add("JWT", f"2024-05-14 10:00:02 WARN rejected token {v}", v)
    v = fake(URLSAFE, 40)
    add("Authorization: Bearer", f"curl -H \"Authorization: Bearer {v}\" https://api.acme.io/v1/me", v)
    v = fake(B64, 28) + "=="
    add("Authorization: Basic", f"Authorization: Basic {v}", v)
    v1, v2 = fake(HEX, 32), fake(URLSAFE, 40)
    add("Cookie header", f"Cookie: _session_id={v1}; csrftoken={v2}; theme=dark", v1, v2)
    v = fake(URLSAFE, 48)
    add("Set-Cookie header", f"< Set-Cookie: sessionid={v}; Path=/; HttpOnly; Secure; SameSite=Lax", v)
    v = "p@ss/w0rd@" + fake(ALNUM, 6)
    add("URL password with / and @", f"DATABASE_URL=postgresql://checkout:{v}@db-primary.internal:5432/checkout", v)
    v = fake(ALNUM, 24)
    add("Redis URL with password only", f"REDIS_URL=rediss://:{v}@cache-1.internal:6380/0", v)
    v = fake(ALNUM, 16)
    add(".netrc, one line", f"machine api.heroku.com login ops@acme.io password {v}", v)
    v = fake(ALNUM, 16)
    add(".netrc, several lines", f"machine github.com\n  login deploy-bot\n  password {v}", v)
    v = fake(ALNUM, 14)
    add("--password flag", f"vault login -method=userpass username=ops --password {v}", v)
    v = "correct horse " + fake(string.ascii_lowercase, 8) + " staple"
    add("--password= with spaces, quoted", f'pg_dump --dbname=app --password="{v}" > dump.sql', v)
    v = fake(ALNUM, 12)
    add("mysql -pPASSWORD", f"mysql -h db-primary -u root -p{v} checkout < fix.sql", v)
    v = fake(ALNUM, 14)
    add("curl -u user:password", f"curl -sS -u admin:{v} https://jenkins.acme.io/job/deploy/build", v)
    v = fake(ALNUM, 12)
    add("sshpass -p", f"sshpass -p '{v}' ssh ops@bastion", v)
    v = fake(ALNUM, 20)
    add("redis-cli -a", f"redis-cli -h cache-1 -p 6379 -a {v} INFO memory", v)
    v = fake(ALNUM, 18)
    add("docker login -p", f"docker login -u deploy -p {v} registry.acme.io", v)
    v = "correct horse battery " + fake(string.ascii_lowercase, 6)
    add("YAML password with spaces, quoted", f'  password: "{v}"', v)
    v = fake(ALNUM, 16)
    add("JSON password", f'{{"username": "app", "password": "{v}", "host": "db"}}', v)
    v = fake(ALNUM, 16)
    add("environment variable", f"DB_PASSWORD={v}", v)
    v = fake(ALNUM, 16)
    add("PGPASSWORD before psql", f"PGPASSWORD={v} psql -h pg-main-rw -U app -d payments", v)
    v = fake(ALNUM, 16)
    add("kubectl --from-literal", f"kubectl create secret generic db --from-literal=password={v}", v)
    v = fake(ALNUM, 20)
    add("Python keyword argument", f"client = Client(user='svc', api_key='{v}')", v)
    key_lines = [fake(B64, 64) for _ in range(4)]
    add("PEM RSA private key", "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(key_lines)
        + "\n-----END RSA PRIVATE KEY-----", *key_lines)
    key_lines = [fake(B64, 70) for _ in range(3)]
    add("OpenSSH private key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA" + "\n".join(key_lines)
        + "\n-----END OPENSSH PRIVATE KEY-----", *key_lines)
    key_lines = [fake(B64, 64) for _ in range(3)]
    add("PEM key cut off by a size cap", "-----BEGIN EC PRIVATE KEY-----\n" + "\n".join(key_lines), *key_lines)
    private = [fake(B64, 64) for _ in range(2)]
    mac = fake(HEX, 64)
    add("PuTTY key file", "PuTTY-User-Key-File-3: ssh-rsa\nEncryption: none\nPublic-Lines: 1\n" + fake(B64, 64)
        + "\nPrivate-Lines: 2\n" + "\n".join(private) + f"\nPrivate-MAC: {mac}", *private, mac)
    v = "AGE-SECRET-KEY-1" + fake(string.ascii_uppercase + DIGITS, 58)
    add("age secret key", f"# created: 2024-05-14\n{v}", v)
    v = "HRKU-" + fake(URLSAFE, 60)
    add("Heroku API key", f"HEROKU_API_KEY={v}", v)
    v = "dop_v1_" + fake(HEX, 64)
    add("DigitalOcean token", f"doctl auth init -t {v}", v)
    v = "shpat_" + fake(HEX, 32)
    add("Shopify access token", f"X-Shopify-Access-Token: {v}", v)
    v = "key-" + fake(HEX, 32)
    add("Mailgun API key", f"mailgun api {v}", v)
    v = fake(HEX, 32) + "-us14"
    add("Mailchimp API key", f"mailchimp key {v} in use", v)
    v = fake(DIGITS, 10) + ":AA" + fake(URLSAFE, 33)
    add("Telegram bot token", f"https://api.telegram.org/bot{v}/sendMessage", v)
    v = "M" + fake(URLSAFE, 23) + "." + fake(URLSAFE, 6) + "." + fake(URLSAFE, 27)
    add("Discord bot token", f"DISCORD_BOT={v}", v)
    v = "glsa_" + fake(ALNUM, 32) + "_" + fake(HEX, 8)
    add("Grafana service account token", f"grafana token {v}", v)
    v = "sntrys_" + fake(B64, 80)
    add("Sentry auth token", f"sentry-cli --auth-token {v} releases new 2.14.1", v)
    v = "dapi" + fake(HEX, 32)
    add("Databricks token", f"databricks configure --token {v}", v)
    v = "NRAK-" + fake(string.ascii_uppercase + DIGITS, 27)
    add("New Relic user key", f"newrelic profile add --apiKey {v}", v)
    v = "PMAK-" + fake(HEX, 24) + "-" + fake(HEX, 34)
    add("Postman API key", f"postman login --with-api-key {v}", v)
    v = "dp.pt." + fake(ALNUM, 43)
    add("Doppler token", f"doppler configure set token {v}", v)
    v = "dckr_pat_" + fake(URLSAFE, 27)
    add("Docker Hub token", f"echo {v} | docker login -u deploy --password-stdin", v)
    v = fake(ALNUM, 14)
    add("openssl pass:", f"openssl pkcs12 -export -in c.pem -inkey k.pem -out c.p12 -passout pass:{v}", v)
    v = fake(ALNUM, 12)
    add("keytool -storepass", f"keytool -list -keystore truststore.jks -storepass {v}", v)
    v = fake(URLSAFE, 40)
    add("access_token in a query string", f"GET /api/v1/export?format=csv&access_token={v} 200", v)
    v = fake(HEX, 32)
    add("X-Api-Key header", f"X-Api-Key: {v}", v)
    v = fake(ALNUM, 20)
    add("Java properties", f"spring.datasource.password={v}", v)
    v = fake(ALNUM, 24)
    add("Terraform variable", f'  client_secret = "{v}"', v)
    return out


SAMPLES = _samples()

# Runbook and log lines with no secret in them: redaction leaves them as they are.
ORDINARY = [
    "1. Connect (the password is in the `redis-auth` secret; do not paste it in Slack):",
    "Password: see the vault entry `payments/db`, never this page.",
    "Rotate the token: the old one keeps working for 24 hours.",
    "Bearer tokens are checked by the gateway, not by the service.",
    "passwords must be rotated every 90 days",
    "kubectl -n shop create secret tls shop-example-com-tls --cert=fullchain.pem --key=privkey.pem",
    "kubectl -n payments get secret db-creds -o jsonpath='{.data.password}' | base64 -d",
    "  secretName: shop-example-com-tls",
    "      secretKeyRef: {name: db-creds, key: password}",
    "max_tokens=256 temperature=0.2 top_k=3",
    "CLARA_MAX_NEW_TOKENS=256",
    "token_ttl: 3600",
    "password_file: /etc/app/db-password",
    "echo $REGISTRY_TOKEN | docker login -u deploy --password-stdin registry.acme.io",
    "DB_PASSWORD=${DB_PASSWORD:?set it}",
    "psql -h pg-main-rw -U app -c \"select pg_is_in_recovery();\"",
    "redis-cli --bigkeys -i 0.1",
    "mysql -h db -P 3306 -u monitor -p",
    "curl -s http://localhost:8081/actuator/metrics/hikaricp.connections.active",
    "2024-05-14 13:55:00,055 INFO    [checkout.boot] connected to redis://cache-1.internal:6379/2",
    "2024-05-14 13:55:00,923 INFO    [checkout.http] request_id=r001001 GET /api/v1/cart 200 109ms",
    "Authorization: required for every call (see the gateway docs)",
    "auth_method=password mode=strict",
    "see https://sqlalche.me/e/20/3o7r and https://github.com/acme/runbooks/blob/main/db.md#failover",
    "the keyboard=us layout and monkey=patched tests",
    "git commit 9f3c2ab1e4d5 image sha256:4f1c0d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f",
]
