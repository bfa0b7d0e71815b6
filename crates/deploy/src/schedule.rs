//! EventBridge schedule expressions: `rate(5 minutes)` and `cron(0 12 * * ? *)`, in UTC.
//!
//! AWS cron has six fields (minutes, hours, day of month, month, day of week, year) with Quartz
//! meanings (`?`, `L`, `W`, `#`, weekdays 1-7 from Sunday); croner in Quartz mode reads them once
//! a seconds field is put in front. `rate(...)` is small enough to read here.

use chrono::{DateTime, TimeZone, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;

#[derive(Debug, Clone)]
pub enum ScheduleExpression {
    /// Every this many milliseconds, counted from when the schedule was created.
    Rate { every_ms: i64 },
    Cron(Box<Cron>),
}

const MINUTE_MS: i64 = 60_000;

impl ScheduleExpression {
    pub fn parse(expression: &str) -> Result<ScheduleExpression, String> {
        let expression = expression.trim();
        if let Some(body) = expression.strip_prefix("rate(").and_then(|rest| rest.strip_suffix(')')) {
            return parse_rate(body).map(|every_ms| ScheduleExpression::Rate { every_ms });
        }
        if let Some(body) = expression.strip_prefix("cron(").and_then(|rest| rest.strip_suffix(')')) {
            return parse_cron(body).map(|cron| ScheduleExpression::Cron(Box::new(cron)));
        }
        Err(format!("'{expression}' is not a schedule expression: expected rate(VALUE UNIT) or cron(MIN HOUR DOM MONTH DOW YEAR)"))
    }

    /// The first firing strictly after `after_ms` (milliseconds since the epoch). A rate fires at
    /// whole multiples of its period after `anchor_ms`, when the schedule was created.
    pub fn next_after(&self, anchor_ms: i64, after_ms: i64) -> Option<i64> {
        match self {
            ScheduleExpression::Rate { every_ms } => {
                let periods = if after_ms < anchor_ms { 0 } else { (after_ms - anchor_ms) / every_ms };
                Some(anchor_ms + (periods + 1) * every_ms)
            }
            ScheduleExpression::Cron(cron) => {
                let after: DateTime<Utc> = Utc.timestamp_millis_opt(after_ms).single()?;
                cron.find_next_occurrence(&after, false).ok().map(|next| next.timestamp_millis())
            }
        }
    }
}

fn parse_rate(body: &str) -> Result<i64, String> {
    let mut words = body.split_whitespace();
    let (Some(value), Some(unit), None) = (words.next(), words.next(), words.next()) else {
        return Err(format!("rate({body}) must be rate(VALUE UNIT), e.g. rate(5 minutes)"));
    };
    let value: i64 = value.parse().ok().filter(|value| *value > 0).ok_or_else(|| format!("rate({body}): the value must be a positive whole number"))?;
    // AWS insists on the singular for 1 and the plural otherwise.
    let singular = value == 1;
    let unit_ms = match (unit, singular) {
        ("minute", true) | ("minutes", false) => MINUTE_MS,
        ("hour", true) | ("hours", false) => 60 * MINUTE_MS,
        ("day", true) | ("days", false) => 24 * 60 * MINUTE_MS,
        _ if singular => return Err(format!("rate({body}): the unit of 1 must be minute, hour or day")),
        _ => return Err(format!("rate({body}): the unit must be minutes, hours or days")),
    };
    value.checked_mul(unit_ms).ok_or_else(|| format!("rate({body}) is too long"))
}

fn parse_cron(body: &str) -> Result<Cron, String> {
    let fields: Vec<&str> = body.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!("cron({body}) must have six fields: minutes hours day-of-month month day-of-week year"));
    }
    // AWS requires `?` in exactly one of day-of-month and day-of-week.
    if (fields[2] == "?") == (fields[4] == "?") {
        return Err(format!("cron({body}): exactly one of day-of-month and day-of-week must be '?'"));
    }
    let parser = CronParser::builder().alternative_weekdays(true).seconds(Seconds::Required).sloppy_ranges(true).build();
    parser.parse(&format!("0 {body}")).map_err(|error| format!("cron({body}): {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis()
    }

    #[test]
    fn rates_fire_at_whole_periods_from_their_anchor() {
        let every_five = ScheduleExpression::parse("rate(5 minutes)").unwrap();
        assert_eq!(every_five.next_after(0, 0), Some(5 * MINUTE_MS));
        assert_eq!(every_five.next_after(0, 5 * MINUTE_MS), Some(10 * MINUTE_MS));
        assert_eq!(every_five.next_after(0, 5 * MINUTE_MS - 1), Some(5 * MINUTE_MS));
        assert!(matches!(ScheduleExpression::parse("rate(1 day)").unwrap(), ScheduleExpression::Rate { every_ms: 86_400_000 }));
    }

    #[test]
    fn rates_are_checked_as_aws_checks_them() {
        for wrong in ["rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "rate(5 weeks)", "rate(five minutes)", "rate(5)", "every 5 minutes"] {
            assert!(ScheduleExpression::parse(wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn cron_reads_aws_six_fields() {
        let noon = ScheduleExpression::parse("cron(0 12 * * ? *)").unwrap();
        assert_eq!(noon.next_after(0, at("2026-11-23T13:00:00Z")), Some(at("2026-11-24T12:00:00Z")));
        let nightly = ScheduleExpression::parse("cron(0 2 * * ? *)").unwrap();
        assert_eq!(nightly.next_after(0, at("2026-11-23T02:00:00Z")), Some(at("2026-11-24T02:00:00Z")));
        // Quartz weekdays: 2 is Monday; 2026-11-23 is a Monday.
        let mondays = ScheduleExpression::parse("cron(15 10 ? * 2 *)").unwrap();
        assert_eq!(mondays.next_after(0, at("2026-11-23T11:00:00Z")), Some(at("2026-11-30T10:15:00Z")));
        let last_day = ScheduleExpression::parse("cron(0 0 L * ? *)").unwrap();
        assert_eq!(last_day.next_after(0, at("2026-11-23T00:00:00Z")), Some(at("2026-11-30T00:00:00Z")));
    }

    #[test]
    fn cron_needs_one_question_mark_and_six_fields() {
        assert!(ScheduleExpression::parse("cron(0 12 * * * *)").is_err());
        assert!(ScheduleExpression::parse("cron(0 12 * *)").is_err());
        assert!(ScheduleExpression::parse("cron(0 99 * * ? *)").is_err());
    }
}
