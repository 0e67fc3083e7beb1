"""CloudTrail event names to IAM actions, from the data file."""

from __future__ import annotations

import pytest

from dormant.trail.actions import iam_action, mapping, service_prefix


@pytest.mark.parametrize(
    ("source", "name", "action"),
    [
        ("s3.amazonaws.com", "ListObjects", "s3:ListBucket"),
        ("s3.amazonaws.com", "ListObjectsV2", "s3:ListBucket"),
        ("s3.amazonaws.com", "ListBuckets", "s3:ListAllMyBuckets"),
        ("s3.amazonaws.com", "HeadObject", "s3:GetObject"),
        ("s3.amazonaws.com", "GetObject", "s3:GetObject"),
        ("monitoring.amazonaws.com", "PutMetricData", "cloudwatch:PutMetricData"),
        ("email.amazonaws.com", "SendEmail", "ses:SendEmail"),
        (
            "lambda.amazonaws.com",
            "UpdateFunctionConfiguration20150331v2",
            "lambda:UpdateFunctionConfiguration",
        ),
        ("lambda.amazonaws.com", "ListFunctions20150331", "lambda:ListFunctions"),
        ("lambda.amazonaws.com", "Invoke", "lambda:InvokeFunction"),
        (
            "cloudfront.amazonaws.com",
            "CreateDistribution2020_05_31",
            "cloudfront:CreateDistribution",
        ),
        ("iam.amazonaws.com", "GetUser", "iam:GetUser"),
        ("sts.amazonaws.com", "AssumeRole", "sts:AssumeRole"),
        ("sts.amazonaws.com", "GetCallerIdentity", None),
        ("signin.amazonaws.com", "ConsoleLogin", None),
    ],
)
def test_iam_action(source, name, action):
    assert iam_action(source, name) == action


def test_service_prefix_defaults_to_the_endpoint_name():
    assert service_prefix("secretsmanager.amazonaws.com") == "secretsmanager"
    assert service_prefix("monitoring.amazonaws.com") == "cloudwatch"


def test_the_data_says_where_it_comes_from():
    data = mapping()
    assert "Service Authorization Reference" in data["about"]
    for source, actions in data["actions"].items():
        prefix = service_prefix(source)
        for name, action in actions.items():
            assert action is None or action.startswith(prefix + ":"), (source, name)
