"""The scheduled scan's settings, from the function's environment variables.

Every variable is optional except ``REPORT_BUCKET``. A bad value is an error that names the
variable and says what was expected: the function fails at once, before reading anything.
No setting holds a secret: the Slack webhook URL is read at run time from Secrets Manager or an
SSM SecureString whose *name* is configured here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import InputError

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
OU = re.compile(r"^(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}|r-[0-9a-z]{4,32}|[^/,]+(/[^/,]+)*)$")
"""An OU or root id, or a path from the root's name (``Root/Prod``)."""
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")

VARIABLES = {
    "REPORT_BUCKET": "S3 bucket for the evidence bundle, the reports and state.json (required)",
    "REPORT_PREFIX": "key prefix in the bucket (default 'dormant')",
    "SNS_TOPIC_ARN": "SNS topic for the e-mail-friendly summary (optional)",
    "SLACK_WEBHOOK_SECRET": "Secrets Manager secret id holding the Slack incoming-webhook URL",
    "SLACK_WEBHOOK_PARAMETER": "or: SSM SecureString parameter name holding that URL",
    "SECURITY_HUB": "'true' to import findings into AWS Security Hub (default false)",
    "EVENTBRIDGE": "'true' to put one EventBridge event per new finding (default false)",
    "EVENT_BUS_NAME": "event bus for those events (default 'default')",
    "REMINDER_DAYS": "remind about a still-open finding after this many days (default 7; 0: never)",
    "DIGEST_WEEKDAY": "MON..SUN: also send a digest of every open finding that day (default: none)",
    "THRESHOLD_DAYS": "one threshold in days for every finding type (as --threshold-days)",
    "CIS": "'true' for the CIS preset (as --cis)",
    "POLICY_S3_URI": "s3://bucket/key of a policy file (as --policy)",
    "POLICY_SSM_PARAMETER": "or: SSM parameter name holding the policy file",
    "ORG": "'true' to scan every account of the organization (from the management account or a "
    "delegated administrator; default false)",
    "ORG_ROLE_NAME": "the role assumed in each member account (default "
    "OrganizationAccountAccessRole; deploy/member-role.yaml creates dormant-readonly)",
    "ORG_EXTERNAL_ID": "external id passed when assuming that role (optional)",
    "ORG_ACCOUNTS": "scan only these account ids (comma-separated)",
    "ORG_EXCLUDE_ACCOUNTS": "never scan these account ids (comma-separated)",
    "ORG_OUS": "scan only the accounts under these OUs or roots, recursively: comma-separated "
    "ids (ou-..., r-...) or paths (Root/Prod)",
    "ORG_ACCOUNT_CONCURRENCY": "accounts scanned at once in one run (default 8)",
    "ORG_RESUME_HOURS": "a run that ran out of time is resumed by the next run if it started "
    "less than this many hours before (default 48; 0: always start over)",
    "TIME_RESERVE_SECONDS": "stop collecting when this much time is left (default 60)",
    "MAX_LISTED": "findings listed per section of a notification (default 20)",
    "CONCURRENCY": "API calls in flight while collecting (default 8)",
    "AUTO_DEACTIVATE_KEYS": "'true' to deactivate unused access keys automatically, journaled "
    "in the bucket (default false)",
}
"""Every environment variable the function reads, with what it means (the README's table)."""


class ConfigError(InputError):
    """A bad setting: names the variable and what was expected."""


@dataclass(frozen=True)
class Settings:
    """What one deployment of the scheduled scan does."""

    bucket: str
    """Where the evidence, the reports and the state go."""
    prefix: str = "dormant"
    """Key prefix in the bucket, without slashes at either end ('' for none)."""
    topic_arn: str | None = None
    slack_secret: str | None = None
    """Secrets Manager secret id (name or ARN) whose value is the webhook URL, or JSON with
    ``webhook_url``."""
    slack_parameter: str | None = None
    """SSM parameter name (SecureString) whose value is the webhook URL."""
    security_hub: bool = False
    eventbridge: bool = False
    event_bus: str = "default"
    reminder_days: int = 7
    digest_weekday: int | None = None
    """0 (Monday) to 6 (Sunday), in UTC; None for no digest."""
    threshold_days: int | None = None
    cis: bool = False
    policy_s3_uri: str | None = None
    policy_ssm_parameter: str | None = None
    org: bool = False
    org_role_name: str = "OrganizationAccountAccessRole"
    org_external_id: str | None = None
    org_accounts: tuple[str, ...] = ()
    org_exclude_accounts: tuple[str, ...] = ()
    org_ous: tuple[str, ...] = ()
    org_account_concurrency: int = 8
    org_resume_hours: int = 48
    """A run that ran out of time is resumed by the next one within this many hours."""
    time_reserve_seconds: float = 60.0
    max_listed: int = 20
    concurrency: int = 8
    auto_deactivate_keys: bool = False
    """Deactivate unused access keys (``automation.remediate``); off unless asked for."""

    @property
    def notifies(self) -> bool:
        """Whether any channel that tells people (SNS, Slack) is configured."""
        return bool(self.topic_arn or self.slack_secret or self.slack_parameter)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        def get(name: str) -> str | None:
            value = (env.get(name) or "").strip()
            return value or None

        def flag(name: str) -> bool:
            value = (get(name) or "false").lower()
            if value in ("true", "1", "yes", "on"):
                return True
            if value in ("false", "0", "no", "off"):
                return False
            raise ConfigError(f"{name}: expected true or false, got {env.get(name)!r}")

        def number(name: str, default: int, minimum: int, maximum: int) -> int:
            text = get(name)
            if text is None:
                return default
            try:
                value = int(text)
            except ValueError:
                raise ConfigError(f"{name}: expected a whole number, got {text!r}") from None
            if not minimum <= value <= maximum:
                raise ConfigError(f"{name}: expected {minimum} to {maximum}, got {value}")
            return value

        bucket = get("REPORT_BUCKET")
        if not bucket:
            raise ConfigError("REPORT_BUCKET: required (the S3 bucket for reports and state)")
        weekday = get("DIGEST_WEEKDAY")
        digest = None
        if weekday:
            if weekday.upper()[:3] not in WEEKDAYS:
                raise ConfigError(
                    f"DIGEST_WEEKDAY: expected one of {', '.join(WEEKDAYS)}, got {weekday!r}"
                )
            digest = WEEKDAYS.index(weekday.upper()[:3])
        if get("SLACK_WEBHOOK_SECRET") and get("SLACK_WEBHOOK_PARAMETER"):
            raise ConfigError("SLACK_WEBHOOK_SECRET and SLACK_WEBHOOK_PARAMETER: set only one")
        if get("POLICY_S3_URI") and get("POLICY_SSM_PARAMETER"):
            raise ConfigError("POLICY_S3_URI and POLICY_SSM_PARAMETER: set only one")
        uri = get("POLICY_S3_URI")
        if uri and not (uri.startswith("s3://") and "/" in uri[5:] and not uri.endswith("/")):
            raise ConfigError(f"POLICY_S3_URI: expected s3://bucket/key, got {uri!r}")
        topic = get("SNS_TOPIC_ARN")
        if topic and not topic.startswith("arn:"):
            raise ConfigError(f"SNS_TOPIC_ARN: expected an SNS topic ARN, got {topic!r}")
        threshold = number("THRESHOLD_DAYS", 0, 0, 100_000) or None

        def ids(name: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
            items = tuple(x.strip() for x in (get(name) or "").split(",") if x.strip())
            bad = [x for x in items if not pattern.match(x)]
            if bad:
                raise ConfigError(f"{name}: expected comma-separated {what}, got {bad[0]!r}")
            return tuple(dict.fromkeys(items))

        if flag("ORG") and flag("AUTO_DEACTIVATE_KEYS"):
            raise ConfigError(
                "AUTO_DEACTIVATE_KEYS with ORG=true: automatic deactivation acts only in the "
                "function's own account, and the member accounts' role is read-only; turn one off"
            )
        role_name = get("ORG_ROLE_NAME") or "OrganizationAccountAccessRole"
        if not ROLE_NAME.match(role_name):
            raise ConfigError(f"ORG_ROLE_NAME: expected an IAM role name, got {role_name!r}")
        external_id = get("ORG_EXTERNAL_ID")
        if external_id and not EXTERNAL_ID.match(external_id):
            # The value is not echoed: it is a shared secret for some.
            raise ConfigError(
                "ORG_EXTERNAL_ID: expected 2 to 1224 letters, digits or +=,.@:/-_ characters"
            )
        return cls(
            bucket=bucket,
            prefix=env.get("REPORT_PREFIX", "dormant").strip().strip("/"),
            topic_arn=topic,
            slack_secret=get("SLACK_WEBHOOK_SECRET"),
            slack_parameter=get("SLACK_WEBHOOK_PARAMETER"),
            security_hub=flag("SECURITY_HUB"),
            eventbridge=flag("EVENTBRIDGE"),
            event_bus=get("EVENT_BUS_NAME") or "default",
            reminder_days=number("REMINDER_DAYS", 7, 0, 3650),
            digest_weekday=digest,
            threshold_days=threshold,
            cis=flag("CIS"),
            policy_s3_uri=uri,
            policy_ssm_parameter=get("POLICY_SSM_PARAMETER"),
            org=flag("ORG"),
            org_role_name=role_name,
            org_external_id=external_id,
            org_accounts=ids("ORG_ACCOUNTS", ACCOUNT_ID, "12-digit account ids"),
            org_exclude_accounts=ids("ORG_EXCLUDE_ACCOUNTS", ACCOUNT_ID, "12-digit account ids"),
            org_ous=ids("ORG_OUS", OU, "OU or root ids (ou-..., r-...) or paths (Root/Prod)"),
            org_account_concurrency=number("ORG_ACCOUNT_CONCURRENCY", 8, 1, 64),
            org_resume_hours=number("ORG_RESUME_HOURS", 48, 0, 24 * 30),
            time_reserve_seconds=float(number("TIME_RESERVE_SECONDS", 60, 5, 900)),
            max_listed=number("MAX_LISTED", 20, 1, 500),
            concurrency=number("CONCURRENCY", 8, 1, 64),
            auto_deactivate_keys=flag("AUTO_DEACTIVATE_KEYS"),
        )
