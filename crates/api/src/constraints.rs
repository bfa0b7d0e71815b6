//! The API model's constraints (required members, lengths, ranges, enums, patterns), checked
//! before anything else and reported together as one ValidationException, in AWS's words:
//! `1 validation error detected: Value 'x' at 'name' failed to satisfy constraint: Member must
//! have length less than or equal to 80`. Sensitive members are reported without their value.

use crate::error::ApiError;

#[derive(Default)]
pub struct Constraints {
    violations: Vec<String>,
}

/// Java's String length, which the model's limits count: UTF-16 code units.
fn java_length(text: &str) -> usize {
    text.encode_utf16().count()
}

impl Constraints {
    pub fn new() -> Constraints {
        Constraints::default()
    }

    fn violation(&mut self, shown: Option<&str>, field: &str, constraint: &str) {
        let value = shown.map(|value| format!(" '{value}'")).unwrap_or_default();
        self.violations.push(format!("Value{value} at '{field}' failed to satisfy constraint: {constraint}"));
    }

    pub fn required<T: ?Sized>(&mut self, field: &str, value: Option<&T>) -> &mut Self {
        if value.is_none() {
            self.violations.push(format!("Value null at '{field}' failed to satisfy constraint: Member must not be null"));
        }
        self
    }

    fn bounded(&mut self, shown: Option<&str>, field: &str, length: usize, min: usize, max: usize, unit: &str) {
        if length < min {
            self.violation(shown, field, &format!("Member must have length greater than or equal to {min}"));
        } else if length > max {
            self.violation(shown, field, &format!("Member must have {unit} less than or equal to {max}"));
        }
    }

    /// A string member whose value may be quoted back.
    pub fn length(&mut self, field: &str, value: Option<&str>, min: usize, max: usize) -> &mut Self {
        if let Some(value) = value {
            self.bounded(Some(value), field, java_length(value), min, max, "length");
        }
        self
    }

    /// A sensitive string member: its value is never quoted back.
    pub fn sensitive_length(&mut self, field: &str, value: Option<&str>, min: usize, max: usize) -> &mut Self {
        if let Some(value) = value {
            self.bounded(None, field, java_length(value), min, max, "length");
        }
        self
    }

    /// A sensitive payload (input, output) limited in UTF-8 bytes.
    pub fn payload_size(&mut self, field: &str, value: Option<&str>, max_bytes: usize) -> &mut Self {
        if value.is_some_and(|value| value.len() > max_bytes) {
            self.violation(None, field, &format!("Member must have size less than or equal to {max_bytes} bytes in UTF-8 encoding"));
        }
        self
    }

    pub fn range(&mut self, field: &str, value: Option<i64>, min: i64, max: i64) -> &mut Self {
        if let Some(value) = value {
            let shown = value.to_string();
            if value < min {
                self.violation(Some(&shown), field, &format!("Member must have value greater than or equal to {min}"));
            } else if value > max {
                self.violation(Some(&shown), field, &format!("Member must have value less than or equal to {max}"));
            }
        }
        self
    }

    /// As `range`, for float members (shown as Java prints a double: `150.0`).
    pub fn float_range(&mut self, field: &str, value: Option<f64>, min: f64, max: f64) -> &mut Self {
        if let Some(value) = value {
            let shown = format!("{value:?}");
            if value < min {
                self.violation(Some(&shown), field, &format!("Member must have value greater than or equal to {min}"));
            } else if value > max {
                self.violation(Some(&shown), field, &format!("Member must have value less than or equal to {max}"));
            }
        }
        self
    }

    pub fn one_of(&mut self, field: &str, value: Option<&str>, allowed: &[&str]) -> &mut Self {
        if let Some(value) = value.filter(|value| !allowed.contains(value)) {
            self.violation(Some(value), field, &format!("Member must satisfy enum value set: [{}]", allowed.join(", ")));
        }
        self
    }

    /// `matches` is the caller's verdict on the value; `pattern` is how AWS quotes the rule.
    pub fn pattern(&mut self, field: &str, value: Option<&str>, matches: fn(&str) -> bool, pattern: &str) -> &mut Self {
        if let Some(value) = value.filter(|value| !matches(value)) {
            self.violation(Some(value), field, &format!("Member must satisfy regular expression pattern: {pattern}"));
        }
        self
    }

    /// A list member's item count; `shown` renders the list as AWS quotes it.
    pub fn count(&mut self, field: &str, count: usize, min: usize, max: usize, shown: impl FnOnce() -> String) -> &mut Self {
        if count < min || count > max {
            let shown = shown();
            self.bounded(Some(&shown), field, count, min, max, "length");
        }
        self
    }

    pub fn check(&mut self) -> Result<(), ApiError> {
        match self.violations.is_empty() {
            true => Ok(()),
            false => Err(ApiError::constraints(&std::mem::take(&mut self.violations))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(constraints: &mut Constraints) -> String {
        constraints.check().unwrap_err().message
    }

    #[test]
    fn a_missing_member_is_null() {
        let missing: Option<&String> = None;
        assert_eq!(
            message(Constraints::new().required("stateMachineArn", missing)),
            "1 validation error detected: Value null at 'stateMachineArn' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn lengths_quote_visible_values_only() {
        let long = "a".repeat(81);
        assert_eq!(
            message(Constraints::new().length("name", Some(&long), 1, 80)),
            format!("1 validation error detected: Value '{long}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80")
        );
        assert_eq!(
            message(Constraints::new().sensitive_length("error", Some(&"e".repeat(257)), 0, 256)),
            "1 validation error detected: Value at 'error' failed to satisfy constraint: Member must have length less than or equal to 256"
        );
    }

    #[test]
    fn payloads_count_utf8_bytes_inclusively() {
        let at_limit = "x".repeat(262_144);
        assert!(Constraints::new().payload_size("input", Some(&at_limit), 262_144).check().is_ok());
        let over = "é".repeat(131_073);
        assert_eq!(
            message(Constraints::new().payload_size("input", Some(&over), 262_144)),
            "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have size less than or equal to 262144 bytes in UTF-8 encoding"
        );
    }

    #[test]
    fn several_violations_are_counted_and_joined() {
        let error = Constraints::new().range("maxResults", Some(1001), 0, 1000).one_of("type", Some("BIG"), &["STANDARD", "EXPRESS"]).check().unwrap_err();
        assert_eq!(error.code(), "ValidationException");
        assert_eq!(
            error.message,
            "2 validation errors detected: Value '1001' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000; \
             Value 'BIG' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
        );
    }
}
