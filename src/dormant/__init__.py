"""dormant: find AWS IAM credentials and permissions nobody uses, with evidence."""

__version__ = "0.1.0"
