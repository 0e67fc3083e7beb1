"""Local IAM policy reasoning, pure: parse identity policies, evaluate which actions they
allow, judge what Access Advisor can see, and rewrite policies to least privilege."""
