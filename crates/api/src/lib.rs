//! The AWS-compatible APIs.
