"""The scheduled scan (AWS Lambda) and its deployment: settings, the run, its state in S3, the
time budget, structured logs, the deployment zip and the CloudFormation stack."""
