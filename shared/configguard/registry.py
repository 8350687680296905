"""The registry: one entry per rule and per remediation, with its contract.

The template, the docs catalogue and the contract tests are all checked
against these entries. Handlers look up their own entry by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from configguard import parameters as p
from configguard import settings as s
from configguard.parameters import RuleParameters

LAMBDA = "AWS::Lambda::Function"
KMS_KEY = "AWS::KMS::Key"
LOG_GROUP = "AWS::Logs::LogGroup"
TRAIL = "AWS::CloudTrail::Trail"
ACCOUNT = "AWS::::Account"
REST_STAGE = "AWS::ApiGateway::Stage"
HTTP_STAGE = "AWS::ApiGatewayV2::Stage"
REST_API = "AWS::ApiGateway::RestApi"
HTTP_API = "AWS::ApiGatewayV2::Api"
REST_DOMAIN = "AWS::ApiGateway::DomainName"
HTTP_DOMAIN = "AWS::ApiGatewayV2::DomainName"


class Trigger(StrEnum):
    CHANGE = "change"
    PERIODIC = "periodic"


class _Named:
    """A module name and a template logical id, both derived from the kebab-case name."""

    name: str

    @property
    def module(self) -> str:
        return self.name.replace("-", "_")

    @property
    def logical_id(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("-"))


@dataclass(frozen=True)
class RuleSpec(_Named):
    name: str
    description: str
    resource_types: tuple[str, ...]
    trigger: Trigger
    parameters: type[RuleParameters]
    permissions: tuple[str, ...]
    # The Security Hub controls this rule mirrors, so findings from both correlate.
    security_hub_controls: tuple[str, ...] = ()
    remediation: str | None = None
    maximum_execution_frequency: str | None = None
    # How the rule's semantics differ from the nearest AWS managed rule, and why.
    differences: str = ""


@dataclass(frozen=True)
class RemediationSpec(_Named):
    name: str
    description: str
    rules: tuple[str, ...]
    resource_types: tuple[str, ...]
    permissions: tuple[str, ...]
    default_mode: str = "dry-run"
    settings: tuple[str, ...] = field(default=())
    # The Security Hub controls whose failed findings this fix remedies (a subset of
    # what its rules mirror: a rule may mirror controls the fix does not address).
    controls: tuple[str, ...] = ()
    # What `configguard rollback` does for this fix, and when it refuses.
    rollback: str = ""


# Every rule function needs these besides its own reads (sts:AssumeRole only on the
# members' ExecutionRoleName role, for central mode).
RULE_BASELINE_PERMISSIONS: tuple[str, ...] = (
    "sts:AssumeRole",
    "config:PutEvaluations",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "sqs:SendMessage",
    "kms:Decrypt",
    "kms:GenerateDataKey",
)

# Every remediation function needs these besides the fix itself (sts:AssumeRole only on
# the member accounts' remediation role, for central mode).
REMEDIATION_BASELINE_PERMISSIONS: tuple[str, ...] = (
    "sts:AssumeRole",
    "securityhub:GetFindings",
    "securityhub:BatchUpdateFindings",
    "dynamodb:PutItem",
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "sns:Publish",
    "ssm:GetParameter",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "sqs:SendMessage",
    "kms:Decrypt",
    "kms:GenerateDataKey",
)

RULES: dict[str, RuleSpec] = {
    spec.name: spec
    for spec in (
        RuleSpec(
            name="lambda-reserved-concurrency",
            description=(
                "Lambda functions have function-level reserved concurrency, "
                "optionally within [ConcurrencyLimitLow, ConcurrencyLimitHigh]."
            ),
            resource_types=("AWS::Lambda::Function",),
            trigger=Trigger.CHANGE,
            parameters=p.LambdaReservedConcurrencyParameters,
            permissions=("lambda:GetFunction", "lambda:GetFunctionConcurrency"),
            security_hub_controls=(),
            remediation="add-concurrency-limit",
        ),
        RuleSpec(
            name="lambda-env-no-plaintext-secrets",
            description=(
                "Lambda environment variables hold no plaintext secrets (access keys, "
                "private keys, tokens, URL credentials, high-entropy values in "
                "secret-named variables). Annotations name variables and kinds, never values."
            ),
            resource_types=(LAMBDA,),
            trigger=Trigger.CHANGE,
            parameters=p.LambdaEnvNoPlaintextSecretsParameters,
            permissions=("lambda:GetFunction", "lambda:GetFunctionConfiguration"),
            remediation="strip-env-secrets",
        ),
        RuleSpec(
            name="lambda-env-cmk-encrypted",
            description=(
                "Lambda functions with environment variables encrypt them with a "
                "customer-managed KMS key, optionally one of KmsKeyArns."
            ),
            resource_types=(LAMBDA,),
            trigger=Trigger.CHANGE,
            parameters=p.LambdaEnvCmkEncryptedParameters,
            permissions=("lambda:GetFunction", "lambda:GetFunctionConfiguration"),
            remediation="enable-lambda-env-encryption",
        ),
        RuleSpec(
            name="lambda-public-access-prohibited",
            differences=(
                "lambda-function-public-access-prohibited flags '*' principals only; configguard "
                "also flags service principals without a fixed source account/ARN (S3 needs "
                "aws:SourceAccount), wildcard or variable condition values, and function URLs "
                "open to '*' (auth NONE or AWS_IAM)."
            ),
            description=(
                "Lambda resource policies grant no public access: no unconditioned '*' "
                "principal, no service principal without a source account or ARN, and no "
                "function URL with auth type NONE."
            ),
            resource_types=(LAMBDA,),
            trigger=Trigger.CHANGE,
            parameters=p.LambdaPublicAccessProhibitedParameters,
            permissions=("lambda:GetFunction", "lambda:GetPolicy"),
            security_hub_controls=("Lambda.1",),
            remediation="remove-lambda-public-access",
        ),
        RuleSpec(
            name="lambda-runtime-supported",
            differences=(
                "lambda-function-settings-check compares against a list of allowed runtimes; "
                "configguard uses a dated deprecation table and also flags runtimes within "
                "WarningDays of deprecation, so the finding comes before the runtime breaks."
            ),
            description=(
                "Lambda functions use a runtime that is not deprecated, nor within "
                "WarningDays of its deprecation date. Container images are not applicable."
            ),
            resource_types=(LAMBDA,),
            trigger=Trigger.CHANGE,
            parameters=p.LambdaRuntimeSupportedParameters,
            permissions=("lambda:GetFunction",),
            security_hub_controls=("Lambda.2",),
        ),
        RuleSpec(
            name="lambda-async-failure-destination",
            description=(
                "Lambda functions keep failed asynchronous events: a dead-letter queue or "
                "an on-failure destination, optionally one of AllowedTargetArns."
            ),
            resource_types=(LAMBDA,),
            trigger=Trigger.CHANGE,
            parameters=p.LambdaAsyncFailureDestinationParameters,
            permissions=("lambda:GetFunction", "lambda:GetFunctionEventInvokeConfig"),
        ),
        RuleSpec(
            name="lambda-tracing-active",
            description="Lambda functions have AWS X-Ray active tracing.",
            resource_types=(LAMBDA,),
            trigger=Trigger.CHANGE,
            parameters=p.LambdaTracingActiveParameters,
            permissions=("lambda:GetFunction",),
            security_hub_controls=("Lambda.7",),
        ),
        RuleSpec(
            name="lambda-inside-vpc",
            differences=(
                "lambda-inside-vpc always requires a VPC; configguard only requires one when "
                "Required is true (otherwise non-VPC functions are NOT_APPLICABLE) and also "
                "checks subnets and Availability Zones (Lambda.5)."
            ),
            description=(
                "Lambda functions run in a VPC when Required, in allowed SubnetIds, and "
                "across at least MinAvailabilityZones Availability Zones."
            ),
            resource_types=(LAMBDA,),
            trigger=Trigger.CHANGE,
            parameters=p.LambdaInsideVpcParameters,
            permissions=("lambda:GetFunction", "ec2:DescribeSubnets"),
            security_hub_controls=("Lambda.3", "Lambda.5"),
        ),
        RuleSpec(
            name="lambda-role-least-privilege",
            description=(
                "Lambda execution roles hold no administrator-level access: no "
                "AdministratorAccess / PowerUserAccess / IAMFullAccess, no Action '*', no "
                "sensitive 'service:*' on '*', no iam:PassRole on '*'."
            ),
            resource_types=(LAMBDA,),
            trigger=Trigger.CHANGE,
            parameters=p.LambdaRoleLeastPrivilegeParameters,
            permissions=(
                "lambda:GetFunction",
                "iam:ListAttachedRolePolicies",
                "iam:ListRolePolicies",
                "iam:GetRolePolicy",
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
            ),
        ),
        RuleSpec(
            name="lambda-role-not-shared",
            description=(
                "Each Lambda function has its own execution role: functions sharing a "
                "role (outside AllowedSharedRoles) are NON_COMPLIANT."
            ),
            resource_types=(LAMBDA,),
            trigger=Trigger.PERIODIC,
            parameters=p.LambdaRoleNotSharedParameters,
            permissions=("lambda:ListFunctions",),
            maximum_execution_frequency="TwentyFour_Hours",
        ),
        RuleSpec(
            name="apigw-stage-waf-attached",
            differences=(
                "api-gw-associated-with-waf: same intent; a WAF Classic ACL is NON_COMPLIANT here "
                "because WAF Classic is end-of-life, and HTTP/WebSocket stages are reported "
                "NOT_APPLICABLE explicitly."
            ),
            description=(
                "REST API stages have an AWS WAFv2 web ACL, optionally one of WebAclArns. "
                "HTTP and WebSocket stages cannot have WAF: NOT_APPLICABLE."
            ),
            resource_types=(REST_STAGE, HTTP_STAGE),
            trigger=Trigger.CHANGE,
            parameters=p.ApigwStageWafAttachedParameters,
            permissions=("apigateway:GET",),
            security_hub_controls=("APIGateway.4",),
            remediation="attach-waf",
        ),
        RuleSpec(
            name="apigw-stage-execution-logging",
            differences=(
                "api-gw-execution-logging-enabled also requires all methods to log (Prowler "
                "passes if any method logs); configguard additionally treats a stage without a "
                "stage-wide */* level as NON_COMPLIANT, because the stage record cannot prove "
                "every method has its own level."
            ),
            description=(
                "REST stages log every method at a level in LoggingLevels (the stage-wide "
                "*/* setting applies unless a method overrides it); WebSocket stages log "
                "by default route settings. HTTP stages: NOT_APPLICABLE."
            ),
            resource_types=(REST_STAGE, HTTP_STAGE),
            trigger=Trigger.CHANGE,
            parameters=p.ApigwStageExecutionLoggingParameters,
            permissions=("apigateway:GET",),
            security_hub_controls=("APIGateway.1",),
            remediation="enable-api-logging",
        ),
        RuleSpec(
            name="apigw-stage-access-logging",
            differences=(
                "AWS splits this across v1 and v2 managed rules; configguard checks REST, HTTP "
                "and WebSocket stages with one rule and can require format fields."
            ),
            description=(
                "REST, HTTP and WebSocket stages send access logs to a destination, "
                "optionally with RequiredFormatFields in the format."
            ),
            resource_types=(REST_STAGE, HTTP_STAGE),
            trigger=Trigger.CHANGE,
            parameters=p.ApigwStageAccessLoggingParameters,
            permissions=("apigateway:GET",),
            security_hub_controls=("APIGateway.9",),
            remediation="enable-api-logging",
        ),
        RuleSpec(
            name="apigw-stage-cache-encrypted",
            differences=(
                "api-gw-cache-enabled-and-encrypted is NON_COMPLIANT when caching is off; "
                "configguard judges only caches that exist (no cache is COMPLIANT) and checks "
                "inherited */* settings as well as method overrides."
            ),
            description=(
                "Every REST method with caching enabled, inherited */* settings included, "
                "encrypts its cache data. A stage without a cache is COMPLIANT."
            ),
            resource_types=(REST_STAGE,),
            trigger=Trigger.CHANGE,
            parameters=p.ApigwStageCacheEncryptedParameters,
            permissions=("apigateway:GET",),
            security_hub_controls=("APIGateway.5",),
            remediation="enable-api-cache-encryption",
        ),
        RuleSpec(
            name="apigw-stage-tracing",
            description="REST API stages have AWS X-Ray tracing enabled.",
            resource_types=(REST_STAGE,),
            trigger=Trigger.CHANGE,
            parameters=p.ApigwStageTracingParameters,
            permissions=("apigateway:GET",),
            security_hub_controls=("APIGateway.3",),
        ),
        RuleSpec(
            name="apigw-stage-throttling",
            differences=(
                "No AWS managed rule. A stage limit equal to the account default counts as unset: "
                "API Gateway fills new method settings with exactly the account values."
            ),
            description=(
                "Stage default (REST */*, or v2 default route) throttling is set below the "
                "account default, and within MaxRateLimit / MaxBurstLimit when given."
            ),
            resource_types=(REST_STAGE, HTTP_STAGE),
            trigger=Trigger.CHANGE,
            parameters=p.ApigwStageThrottlingParameters,
            permissions=("apigateway:GET",),
        ),
        RuleSpec(
            name="apigw-route-authorization",
            differences=(
                "api-gwv2-authorization-type-configured covers v2 routes only and is change- "
                "triggered on routes; configguard also covers REST methods, exempts CORS OPTIONS, "
                "checks only $connect on WebSocket APIs, and runs periodically because Config "
                "records no methods."
            ),
            description=(
                "Every REST method and v2 route has an authorization type other than NONE "
                "(optionally one of AuthorizationTypes), except CORS OPTIONS and "
                "AllowedRoutes ('METHOD /path' patterns). Periodic: Config records no methods."
            ),
            resource_types=(REST_API, HTTP_API),
            trigger=Trigger.PERIODIC,
            parameters=p.ApigwRouteAuthorizationParameters,
            permissions=("apigateway:GET",),
            security_hub_controls=("APIGateway.8",),
            maximum_execution_frequency="One_Hour",
        ),
        RuleSpec(
            name="apigw-request-validation",
            differences=("No AWS managed rule. Periodic, because Config records no methods."),
            description=(
                "REST methods that take a body (POST, PUT, PATCH) have a request validator "
                "that validates the body, except AllowedRoutes. Periodic: Config records "
                "no methods."
            ),
            resource_types=(REST_API,),
            trigger=Trigger.PERIODIC,
            parameters=p.ApigwRequestValidationParameters,
            permissions=("apigateway:GET",),
            maximum_execution_frequency="One_Hour",
        ),
        RuleSpec(
            name="apigw-domain-tls-policy",
            differences=(
                "Periodic, because Config records no domain names. Adds the mutual TLS bypass "
                "check: every API mapped to an mTLS domain must disable its default execute-api "
                "endpoint."
            ),
            description=(
                "Custom domain names (v1 and v2) use a TLS 1.2+ security policy; with "
                "mutual TLS, every mapped API has its default execute-api endpoint "
                "disabled. Periodic: Config records no domain names."
            ),
            resource_types=(REST_DOMAIN, HTTP_DOMAIN),
            trigger=Trigger.PERIODIC,
            parameters=p.ApigwDomainTlsPolicyParameters,
            permissions=("apigateway:GET",),
            security_hub_controls=("APIGateway.11",),
            maximum_execution_frequency="Six_Hours",
        ),
        RuleSpec(
            name="kms-key-rotation-enabled",
            description=(
                "Customer-managed, enabled, symmetric encryption keys have automatic "
                "rotation, within MaxRotationPeriodDays when given. Asymmetric, HMAC, "
                "imported-material, custom-key-store and AWS-managed keys: NOT_APPLICABLE."
            ),
            resource_types=(KMS_KEY,),
            trigger=Trigger.CHANGE,
            parameters=p.KmsKeyRotationEnabledParameters,
            permissions=("kms:DescribeKey", "kms:GetKeyRotationStatus"),
            security_hub_controls=("KMS.4",),
            remediation="enable-kms-key-rotation",
        ),
        RuleSpec(
            name="kms-key-not-pending-deletion",
            description=(
                "Customer-managed keys (optionally only KmsKeyIds) are not scheduled for "
                "deletion; the annotation carries the deletion date."
            ),
            resource_types=(KMS_KEY,),
            trigger=Trigger.CHANGE,
            parameters=p.KmsKeyNotPendingDeletionParameters,
            permissions=("kms:DescribeKey",),
            security_hub_controls=("KMS.3",),
            remediation="cancel-kms-key-deletion",
        ),
        RuleSpec(
            name="kms-key-policy-safe",
            description=(
                "Key policies grant nothing to '*' without a fixed org/account/service "
                "condition, kms:* only to the account root, and (with KeyAdminPrincipals) "
                "deletion, disabling and policy changes only to the key administrators. "
                "Periodic: Config's key CI has no policy."
            ),
            resource_types=(KMS_KEY,),
            trigger=Trigger.PERIODIC,
            parameters=p.KmsKeyPolicySafeParameters,
            permissions=("kms:ListKeys", "kms:DescribeKey", "kms:GetKeyPolicy"),
            security_hub_controls=("KMS.5",),
            maximum_execution_frequency="Six_Hours",
        ),
        RuleSpec(
            name="log-group-cmk-encrypted",
            description=(
                "CloudWatch log groups (optionally those under LogGroupNamePrefixes) are "
                "encrypted with a KMS key, KmsKeyId when given. Periodic, like AWS's "
                "cloudwatch-log-group-encrypted."
            ),
            resource_types=(LOG_GROUP,),
            trigger=Trigger.PERIODIC,
            parameters=p.LogGroupCmkEncryptedParameters,
            permissions=("logs:DescribeLogGroups",),
            maximum_execution_frequency="TwentyFour_Hours",
            remediation="enable-log-group-encryption",
        ),
        RuleSpec(
            name="log-group-retention",
            description=(
                "CloudWatch log groups keep events at least MinRetentionTime days "
                "(default 365); never-expire is COMPLIANT unless NeverExpireCompliant is false."
            ),
            resource_types=(LOG_GROUP,),
            trigger=Trigger.PERIODIC,
            parameters=p.LogGroupRetentionParameters,
            permissions=("logs:DescribeLogGroups",),
            security_hub_controls=("CloudWatch.16",),
            maximum_execution_frequency="TwentyFour_Hours",
            remediation="set-log-retention",
        ),
        RuleSpec(
            name="cloudtrail-security-trail",
            description=(
                "At least one trail is logging, multi-Region, with global service events, "
                "read+write management events, log file validation, KMS encryption and "
                "(RequireLambdaDataEvents) Lambda data events. Reported for the account and "
                "per trail."
            ),
            resource_types=(ACCOUNT, TRAIL),
            trigger=Trigger.PERIODIC,
            parameters=p.CloudtrailSecurityTrailParameters,
            permissions=(
                "cloudtrail:DescribeTrails",
                "cloudtrail:GetTrailStatus",
                "cloudtrail:GetEventSelectors",
            ),
            security_hub_controls=("CloudTrail.1", "CloudTrail.2", "CloudTrail.4"),
            maximum_execution_frequency="TwentyFour_Hours",
            remediation="enable-cloudtrail-encryption",
        ),
    )
}

_LAMBDA_TAGS = "lambda:TagResource"

REMEDIATIONS: dict[str, RemediationSpec] = {
    spec.name: spec
    for spec in (
        RemediationSpec(
            name="add-concurrency-limit",
            description=(
                "Sets function-level reserved concurrency: the 14-day peak of "
                "ConcurrentExecutions plus headroom, clamped to [min, max], or the "
                "configured default without data; never lowers an existing limit and keeps "
                "the account's unreserved concurrency above its floor."
            ),
            rules=("lambda-reserved-concurrency",),
            resource_types=(LAMBDA,),
            permissions=(
                "lambda:GetFunction",
                "lambda:GetAccountSettings",
                "lambda:PutFunctionConcurrency",
                "lambda:DeleteFunctionConcurrency",
                _LAMBDA_TAGS,
                "cloudwatch:GetMetricStatistics",
            ),
            settings=(
                s.DEFAULT_CONCURRENCY,
                s.UNRESERVED_MARGIN,
                s.CONCURRENCY_HEADROOM_PERCENT,
                s.CONCURRENCY_MIN,
                s.CONCURRENCY_MAX,
            ),
            rollback=(
                "Restores the earlier reserved concurrency (none: DeleteFunctionConcurrency) "
                "if the limit is still the one the fix set."
            ),
        ),
        RemediationSpec(
            name="strip-env-secrets",
            description=(
                "Stores detected plaintext secrets of a function's environment in one "
                "Secrets Manager secret (stack CMK, read back first) and grants the role "
                "read access to it; in replace mode also swaps each value for a "
                "<NAME>_SECRET_ARN reference. Lossless in every mode."
            ),
            rules=("lambda-env-no-plaintext-secrets",),
            resource_types=(LAMBDA,),
            permissions=(
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:UpdateFunctionConfiguration",
                "lambda:ListVersionsByFunction",
                _LAMBDA_TAGS,
                "secretsmanager:CreateSecret",
                "secretsmanager:PutSecretValue",
                "secretsmanager:GetSecretValue",
                "secretsmanager:DescribeSecret",
                "secretsmanager:TagResource",
                "iam:GetRolePolicy",
                "iam:PutRolePolicy",
            ),
            settings=(s.KEY_ARN, s.STRIP_SECRETS_MODE),
            rollback=(
                "Replace mode only, and only with --restore-plaintext: the stored values "
                "return to their variables and the references the fix added are removed; "
                "refused without the flag, when the environment changed since, and for vault "
                "mode (no variable changed). The secret and the grant stay."
            ),
        ),
        RemediationSpec(
            name="enable-lambda-env-encryption",
            description=(
                "Grants the function's role kms:Decrypt on the CMK (inline policy "
                "configguard-env-decrypt), then sets the function's KMSKeyArn, waiting for "
                "each update to finish and verifying."
            ),
            rules=("lambda-env-cmk-encrypted",),
            resource_types=(LAMBDA,),
            permissions=(
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:UpdateFunctionConfiguration",
                _LAMBDA_TAGS,
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:PutRolePolicy",
                "kms:DescribeKey",
                "kms:CreateGrant",
                "kms:Encrypt",
            ),
            settings=(s.KEY_ARN,),
            rollback=(
                "Restores the earlier KMSKeyArn (none: the AWS managed key) if the function "
                "still uses the key the fix set; the configguard-env-decrypt grant stays."
            ),
        ),
        RemediationSpec(
            name="remove-lambda-public-access",
            description=(
                "Removes only the resource-policy statements (by Sid) that grant public "
                "access; sets a NONE-auth function URL to AWS_IAM only when allowed."
            ),
            rules=("lambda-public-access-prohibited",),
            controls=("Lambda.1",),
            resource_types=(LAMBDA,),
            permissions=(
                "lambda:GetFunction",
                "lambda:GetPolicy",
                "lambda:RemovePermission",
                "lambda:AddPermission",
                "lambda:GetFunctionUrlConfig",
                "lambda:UpdateFunctionUrlConfig",
                _LAMBDA_TAGS,
            ),
            settings=(s.FIX_FUNCTION_URL_AUTH,),
            rollback=(
                "Re-adds the removed statements with AddPermission and restores the URL's "
                "AuthType (re-opening public access); refuses if a removed Sid is back, the "
                "URL changed since, or AddPermission cannot express a statement."
            ),
        ),
        RemediationSpec(
            name="attach-waf",
            description=(
                "Associates the configured (or stack-created) regional WAFv2 web ACL with "
                "a REST API stage; never replaces another web ACL; refuses edge-optimised "
                "and private APIs."
            ),
            rules=("apigw-stage-waf-attached",),
            controls=("APIGateway.4",),
            resource_types=(REST_STAGE,),
            permissions=(
                "apigateway:GET",
                "apigateway:PUT",
                "apigateway:SetWebACL",
                "wafv2:GetWebACL",
                "wafv2:GetWebACLForResource",
                "wafv2:AssociateWebACL",
                "wafv2:DisassociateWebACL",
            ),
            settings=(s.WEB_ACL_ARN,),
            rollback=("Disassociates the web ACL only if it is still the one the fix attached."),
        ),
        RemediationSpec(
            name="enable-api-cache-encryption",
            description=(
                "Sets cacheDataEncrypted for the stage-wide */* setting and every method "
                "override with caching enabled."
            ),
            rules=("apigw-stage-cache-encrypted",),
            controls=("APIGateway.5",),
            resource_types=(REST_STAGE,),
            permissions=("apigateway:GET", "apigateway:PATCH", "apigateway:PUT"),
            rollback=(
                "Sets cacheDataEncrypted back to false only where it is still true and was "
                "false before."
            ),
        ),
        RemediationSpec(
            name="enable-api-logging",
            description=(
                "Turns on execution logging (ERROR by default) and access logging to a "
                "configguard-managed log group encrypted with the stack CMK and with "
                "retention; sets the account's API Gateway CloudWatch role when none is set. "
                "REST and WebSocket stages; HTTP API stages are refused (their access logs "
                "need log-delivery actions without resource-level scoping)."
            ),
            rules=("apigw-stage-execution-logging", "apigw-stage-access-logging"),
            controls=("APIGateway.1", "APIGateway.9"),
            resource_types=(REST_STAGE, HTTP_STAGE),
            permissions=(
                "apigateway:GET",
                "apigateway:PATCH",
                "apigateway:PUT",
                "apigateway:POST",
                "apigateway:DELETE",
                "iam:PassRole",
                "logs:CreateLogGroup",
                "logs:DescribeLogGroups",
                "logs:PutRetentionPolicy",
                "logs:TagResource",
            ),
            settings=(
                s.KEY_ARN,
                s.API_CLOUDWATCH_ROLE_ARN,
                s.API_EXECUTION_LOG_LEVEL,
                s.LOG_RETENTION_DAYS,
            ),
            rollback=(
                "Reverts each setting only if it is still as the fix left it (level back, "
                "access log settings removed); keeps the account CloudWatch role and the log "
                "group (its data)."
            ),
        ),
        RemediationSpec(
            name="enable-log-group-encryption",
            description="Associates the stack CMK with a log group (AssociateKmsKey).",
            rules=("log-group-cmk-encrypted",),
            resource_types=(LOG_GROUP,),
            permissions=(
                "logs:DescribeLogGroups",
                "logs:AssociateKmsKey",
                "logs:DisassociateKmsKey",
                "logs:ListTagsForResource",
                "logs:TagResource",
                "kms:DescribeKey",
            ),
            settings=(s.KEY_ARN,),
            rollback=(
                "Disassociates the key only if it is still the stack key; events ingested "
                "meanwhile stay encrypted with it."
            ),
        ),
        RemediationSpec(
            name="set-log-retention",
            description=(
                "Sets the configured retention on a log group without one or with a "
                "shorter one; never shortens an existing longer retention."
            ),
            rules=("log-group-retention",),
            controls=("CloudWatch.16",),
            resource_types=(LOG_GROUP,),
            permissions=(
                "logs:DescribeLogGroups",
                "logs:PutRetentionPolicy",
                "logs:ListTagsForResource",
                "logs:TagResource",
            ),
            settings=(s.LOG_RETENTION_DAYS,),
            rollback=(
                "Always refused: the fix only lengthens retention, so undoing it would delete"
                " events; the refusal gives the exact command."
            ),
        ),
        RemediationSpec(
            name="enable-kms-key-rotation",
            description=(
                "Enables automatic rotation of a customer managed key, optionally with a period."
            ),
            rules=("kms-key-rotation-enabled",),
            controls=("KMS.4",),
            resource_types=(KMS_KEY,),
            permissions=(
                "kms:DescribeKey",
                "kms:GetKeyRotationStatus",
                "kms:EnableKeyRotation",
                "kms:DisableKeyRotation",
                "kms:ListResourceTags",
                "kms:TagResource",
            ),
            settings=(s.KEY_ROTATION_PERIOD_DAYS,),
            rollback=(
                "Disables rotation (or restores the earlier period) only if rotation is still"
                " as the fix set it."
            ),
        ),
        RemediationSpec(
            name="cancel-kms-key-deletion",
            description=(
                "Cancels the scheduled deletion of a customer managed key (left disabled, "
                "as AWS leaves it). Off by default: an explicit opt-in."
            ),
            rules=("kms-key-not-pending-deletion",),
            controls=("KMS.3",),
            resource_types=(KMS_KEY,),
            permissions=(
                "kms:DescribeKey",
                "kms:CancelKeyDeletion",
                "kms:ListResourceTags",
                "kms:TagResource",
            ),
            default_mode="off",
            rollback=(
                "Always refused: re-scheduling deletion is destructive; the refusal names the"
                " command."
            ),
        ),
        RemediationSpec(
            name="enable-cloudtrail-encryption",
            description=(
                "Encrypts a trail's log files with the stack CMK and enables log file "
                "validation (the harden-cloudtrail part)."
            ),
            rules=("cloudtrail-security-trail",),
            controls=("CloudTrail.2",),
            resource_types=(TRAIL,),
            permissions=(
                "cloudtrail:GetTrail",
                "cloudtrail:UpdateTrail",
                "cloudtrail:ListTags",
                "cloudtrail:AddTags",
            ),
            settings=(s.KEY_ARN,),
            rollback=(
                "Removes the key and/or turns validation off, only for what the fix changed "
                "and only if unchanged since."
            ),
        ),
    )
}


class UnknownRuleError(KeyError):
    """A rule name that configguard does not define."""

    def __str__(self) -> str:
        return f"unknown rule {self.args[0]!r}; known rules: {', '.join(sorted(RULES))}"


class UnknownRemediationError(KeyError):
    def __str__(self) -> str:
        return f"unknown remediation {self.args[0]!r}; known: {', '.join(sorted(REMEDIATIONS))}"


def rule(name: str) -> RuleSpec:
    try:
        return RULES[name]
    except KeyError:
        raise UnknownRuleError(name) from None


def remediation(name: str) -> RemediationSpec:
    try:
        return REMEDIATIONS[name]
    except KeyError:
        raise UnknownRemediationError(name) from None


# AWS names a member account's copy of an organization Config rule
# "OrgConfigRule-<organization rule name>-<random suffix>".
ORG_RULE_PREFIX = "OrgConfigRule-"


def registry_rule_name(config_rule_name: str) -> str | None:
    """The configguard rule a deployed Config rule is: its own name, or a member's copy of
    the organization rule; None for any other rule."""
    if config_rule_name in RULES:
        return config_rule_name
    if config_rule_name.startswith(ORG_RULE_PREFIX):
        rest = config_rule_name.removeprefix(ORG_RULE_PREFIX)
        for name in RULES:
            suffix = rest.removeprefix(f"{name}-")
            if suffix != rest and suffix.isalnum():
                return name
    return None


def remediation_for_rule(rule_name: str) -> RemediationSpec | None:
    paired = rule(rule_name).remediation
    return REMEDIATIONS[paired] if paired else None


# Periodic rules clear results of resources that vanished since the last run.
PERIODIC_RULE_PERMISSIONS: tuple[str, ...] = ("config:GetComplianceDetailsByConfigRule",)


def rule_permissions(spec: RuleSpec) -> frozenset[str]:
    extra = PERIODIC_RULE_PERMISSIONS if spec.trigger is Trigger.PERIODIC else ()
    return frozenset(spec.permissions) | frozenset(RULE_BASELINE_PERMISSIONS) | frozenset(extra)


def remediation_permissions(spec: RemediationSpec) -> frozenset[str]:
    return frozenset(spec.permissions) | frozenset(REMEDIATION_BASELINE_PERMISSIONS)


def compliance_change_pattern(spec: RemediationSpec) -> dict[str, object]:
    """The EventBridge pattern that routes NON_COMPLIANT changes of paired rules to a fix."""
    return {
        "source": ["aws.config"],
        "detail-type": ["Config Rules Compliance Change"],
        "detail": {
            "messageType": ["ComplianceChangeNotification"],
            "configRuleName": [
                *spec.rules,
                *({"prefix": f"{ORG_RULE_PREFIX}{name}-"} for name in spec.rules),
            ],
            "resourceType": list(spec.resource_types),
            "newEvaluationResult": {"complianceType": ["NON_COMPLIANT"]},
        },
    }


def rules_for_control(control: str) -> tuple[RuleSpec, ...]:
    """The configguard rules that mirror a Security Hub control (e.g. "KMS.4")."""
    return tuple(spec for spec in RULES.values() if control in spec.security_hub_controls)


def fix_for_control(control: str) -> tuple[RemediationSpec, RuleSpec] | None:
    """The fix that remedies a control's failed findings, and the rule it runs for."""
    for spec in REMEDIATIONS.values():
        if control in spec.controls:
            mirrors = [name for name in spec.rules if control in RULES[name].security_hub_controls]
            return spec, RULES[mirrors[0] if mirrors else spec.rules[0]]
    return None


@dataclass(frozen=True)
class RouterSpec(_Named):
    """The Security Hub router: findings in, asynchronous fix invocations out."""

    name: str
    description: str
    permissions: tuple[str, ...]


ROUTER = RouterSpec(
    name="securityhub-router",
    description=(
        "Routes Security Hub findings (the configguard custom action, and optionally "
        "imported findings of selected controls) to the paired fix, asynchronously; "
        "notes every finding it cannot route, with the runbook link."
    ),
    permissions=(
        "lambda:InvokeFunction",
        "securityhub:BatchUpdateFindings",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "sqs:SendMessage",
        "kms:Decrypt",
        "kms:GenerateDataKey",
    ),
)


def fix_function_name(spec: RemediationSpec) -> str:
    """The deployed name of a fix's Lambda function (template.yaml sets it)."""
    return f"configguard-{spec.name}"


ROUTER_FUNCTION_NAME = f"configguard-{ROUTER.name}"
