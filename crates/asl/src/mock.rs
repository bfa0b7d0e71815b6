//! Step Functions Local mock configuration (`--mock-config FILE` + `--test-case NAME`): mocked
//! responses per state, consumed by invocation count, as AWS documents the format
//! (<https://docs.aws.amazon.com/step-functions/latest/dg/sfn-local-mock-cfg-file.html>):
//!
//! ```json
//! { "StateMachines":   { "Machine": { "TestCases": { "Case": { "State": "Response" } } } },
//!   "MockedResponses": { "Response": { "0":   { "Throw":  { "Error": "E", "Cause": "C" } },
//!                                      "1-2": { "Return": { "any": "JSON value" } } } } }
//! ```
//!
//! Semantics, following Step Functions Local:
//! - Invocation keys are zero-based: a single number (`"3"`) or an inclusive range (`"1-2"`). The
//!   count is per state and per execution, and every call counts (retries, loop passes, Map
//!   iterations), so the interpreter passes how many times it has already invoked that state.
//! - "When you mock a Task, you must specify a mocked response for every invocation": an
//!   invocation no key covers (past the last one, or in a gap) fails the execution. It is
//!   answered with a `Throw` of `States.Runtime`, which no Retry or Catch handles.
//! - A state that the test case does not name is not mocked: its Task runs for real.
//! - State machines are matched by name. `switchyard run` has no state machine name, so an empty
//!   name selects the configuration's only state machine (and is an error when it has several).
//! - Unlike Step Functions Local, which only reports broken entries when an execution reaches
//!   them, every structural mistake and every dangling response name is rejected by
//!   [`MockConfig::parse`], with the path of the offending field. An entry with no invocation
//!   keys at all is accepted, as Step Functions Local does, and fails when it is used.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::failure::names;

#[derive(Debug, Clone, PartialEq)]
pub enum MockedResponse {
    Return(Value),
    Throw { error: String, cause: String },
}

#[derive(Debug, Clone)]
pub struct MockConfig {
    state_machines: HashMap<String, TestCases>,
    responses: HashMap<String, ResponseSchedule>,
}

/// Test case name -> (state name -> mocked response name).
type TestCases = HashMap<String, HashMap<String, String>>;

/// One mocked response: its entries sorted by invocation, never overlapping.
#[derive(Debug, Clone)]
struct ResponseSchedule {
    entries: Vec<ScheduledResponse>,
}

#[derive(Debug, Clone)]
struct ScheduledResponse {
    first: u32,
    last: u32,
    key: String,
    response: MockedResponse,
}

/// The mocks of one test case, resolved once (see [`MockConfig::test_case`]).
#[derive(Debug, Clone, Copy)]
pub struct TestCaseMocks<'a> {
    name: &'a str,
    states: &'a HashMap<String, String>,
    responses: &'a HashMap<String, ResponseSchedule>,
}

const STATE_MACHINES: &str = "StateMachines";
const MOCKED_RESPONSES: &str = "MockedResponses";
const TEST_CASES: &str = "TestCases";
const RETURN: &str = "Return";
const THROW: &str = "Throw";

impl MockConfig {
    pub fn parse(text: &str) -> Result<MockConfig, String> {
        let root: Value = serde_json::from_str(text).map_err(|e| format!("mock config is not valid JSON: {e}"))?;
        let root = object(&root, "the mock config")?;
        reject_unknown_fields(root, "the mock config", &[STATE_MACHINES, MOCKED_RESPONSES])?;
        let responses = object(required(root, MOCKED_RESPONSES, "the mock config")?, MOCKED_RESPONSES)?
            .iter()
            .map(|(name, entries)| Ok((name.clone(), ResponseSchedule::parse(name, entries)?)))
            .collect::<Result<HashMap<_, _>, String>>()?;
        let state_machines = object(required(root, STATE_MACHINES, "the mock config")?, STATE_MACHINES)?
            .iter()
            .map(|(name, machine)| Ok((name.clone(), parse_state_machine(name, machine, &responses)?)))
            .collect::<Result<HashMap<_, _>, String>>()?;
        Ok(MockConfig { state_machines, responses })
    }

    /// The response for the `invocation`-th (0-based) call of `state` in `test_case` of
    /// `state_machine`; `None` when the state is not mocked (nor the test case, nor the state
    /// machine: use [`MockConfig::test_case`] to report those as errors).
    pub fn response(&self, state_machine: &str, test_case: &str, state: &str, invocation: u32) -> Option<MockedResponse> {
        self.test_case(state_machine, test_case).ok()?.response(state, invocation)
    }

    /// Resolves a test case once, so that a run can reject an unknown `--test-case` up front and
    /// then look responses up by state only. An empty `state_machine` selects the only state
    /// machine of the configuration.
    pub fn test_case(&self, state_machine: &str, test_case: &str) -> Result<TestCaseMocks<'_>, String> {
        let test_cases = if state_machine.is_empty() {
            let mut machines = self.state_machines.values();
            match (machines.next(), machines.next()) {
                (Some(only), None) => only,
                _ => {
                    return Err(format!(
                        "the mock config defines {} state machines ({}); name the one to use",
                        self.state_machines.len(),
                        sorted_names(self.state_machines.keys())
                    ))
                }
            }
        } else {
            self.state_machines.get(state_machine).ok_or_else(|| {
                format!("the mock config has no state machine {state_machine:?} (it defines: {})", sorted_names(self.state_machines.keys()))
            })?
        };
        let (name, states) = test_cases
            .get_key_value(test_case)
            .ok_or_else(|| format!("the mock config has no test case {test_case:?} (defined: {})", sorted_names(test_cases.keys())))?;
        Ok(TestCaseMocks { name, states, responses: &self.responses })
    }
}

impl<'a> TestCaseMocks<'a> {
    /// The response for the `invocation`-th (0-based) call of `state`; `None` when the test case
    /// does not mock `state`. An invocation that no key covers yields a `States.Runtime` throw.
    pub fn response(&self, state: &str, invocation: u32) -> Option<MockedResponse> {
        let response_name = self.states.get(state)?;
        let schedule = self.responses.get(response_name)?;
        Some(schedule.at(invocation).cloned().unwrap_or_else(|| MockedResponse::Throw {
            error: names::RUNTIME.to_string(),
            cause: format!(
                "The mocked response {response_name:?} used by state {state:?} in test case {:?} has no entry for invocation {invocation}{}.",
                self.name,
                schedule.covered_description()
            ),
        }))
    }

    /// Whether the test case mocks `state` at all.
    pub fn mocks(&self, state: &str) -> bool {
        self.states.contains_key(state)
    }
}

impl ResponseSchedule {
    fn parse(name: &str, entries: &Value) -> Result<ResponseSchedule, String> {
        let path = field_path(MOCKED_RESPONSES, name);
        let mut entries = object(entries, &path)?
            .iter()
            .map(|(key, entry)| ScheduledResponse::parse(&field_path(&path, key), key, entry))
            .collect::<Result<Vec<_>, String>>()?;
        entries.sort_by_key(|entry| entry.first);
        if let Some((earlier, later)) = entries.iter().zip(entries.iter().skip(1)).find(|(earlier, later)| earlier.last >= later.first) {
            return Err(format!(
                "mock config: {path}: invocation keys {:?} and {:?} overlap; each invocation takes exactly one response",
                earlier.key, later.key
            ));
        }
        Ok(ResponseSchedule { entries })
    }

    fn at(&self, invocation: u32) -> Option<&MockedResponse> {
        let candidate = self.entries.get(self.entries.partition_point(|entry| entry.last < invocation))?;
        (candidate.first <= invocation).then_some(&candidate.response)
    }

    fn covered_description(&self) -> String {
        if self.entries.is_empty() {
            return " (it defines no invocations)".to_string();
        }
        let keys: Vec<&str> = self.entries.iter().map(|entry| entry.key.as_str()).collect();
        format!(" (it defines invocations {})", keys.join(", "))
    }
}

impl ScheduledResponse {
    fn parse(path: &str, key: &str, entry: &Value) -> Result<ScheduledResponse, String> {
        let (first, last) = parse_invocation_key(key).map_err(|reason| format!("mock config: {path}: {reason}"))?;
        let fields = object(entry, path)?;
        let response = match (fields.get(RETURN), fields.get(THROW), fields.len()) {
            (Some(value), None, 1) => MockedResponse::Return(value.clone()),
            (None, Some(throw), 1) => parse_throw(&format!("{path}.{THROW}"), throw)?,
            _ => return Err(format!("mock config: {path} must contain exactly one field, \"{RETURN}\" or \"{THROW}\"")),
        };
        Ok(ScheduledResponse { first, last, key: key.to_string(), response })
    }
}

fn parse_state_machine(name: &str, machine: &Value, responses: &HashMap<String, ResponseSchedule>) -> Result<TestCases, String> {
    let path = field_path(STATE_MACHINES, name);
    let machine = object(machine, &path)?;
    reject_unknown_fields(machine, &path, &[TEST_CASES])?;
    let test_cases_path = format!("{path}.{TEST_CASES}");
    object(required(machine, TEST_CASES, &path)?, &test_cases_path)?
        .iter()
        .map(|(case_name, states)| {
            let case_path = field_path(&test_cases_path, case_name);
            let states = object(states, &case_path)?
                .iter()
                .map(|(state, response)| {
                    let state_path = field_path(&case_path, state);
                    let response =
                        response.as_str().ok_or_else(|| format!("mock config: {state_path} must be the name of a mocked response (a string)"))?;
                    if !responses.contains_key(response) {
                        return Err(format!("mock config: {state_path} names {response:?}, which {MOCKED_RESPONSES} does not define"));
                    }
                    Ok((state.clone(), response.to_string()))
                })
                .collect::<Result<HashMap<_, _>, String>>()?;
            Ok((case_name.clone(), states))
        })
        .collect()
}

fn parse_throw(path: &str, throw: &Value) -> Result<MockedResponse, String> {
    let fields = object(throw, path)?;
    reject_unknown_fields(fields, path, &["Error", "Cause"])?;
    let string_field = |field: &str| {
        required(fields, field, path)?.as_str().map(str::to_string).ok_or_else(|| format!("mock config: {path}.{field} must be a string"))
    };
    Ok(MockedResponse::Throw { error: string_field("Error")?, cause: string_field("Cause")? })
}

/// `"3"` -> (3, 3); `"1-2"` -> (1, 2).
fn parse_invocation_key(key: &str) -> Result<(u32, u32), String> {
    let number = |text: &str| -> Result<u32, String> {
        if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(format!("invalid invocation key {key:?}: expected a zero-based invocation number (\"0\") or an inclusive range (\"1-2\")"));
        }
        text.parse().map_err(|_| format!("invalid invocation key {key:?}: {text} is too large"))
    };
    let (first, last) = match key.split_once('-') {
        Some((first, last)) => (number(first)?, number(last)?),
        None => {
            let only = number(key)?;
            (only, only)
        }
    };
    if first > last {
        return Err(format!("invalid invocation key {key:?}: the range starts after it ends"));
    }
    Ok((first, last))
}

fn object<'v>(value: &'v Value, path: &str) -> Result<&'v Map<String, Value>, String> {
    value.as_object().ok_or_else(|| format!("mock config: {path} must be a JSON object"))
}

fn required<'v>(fields: &'v Map<String, Value>, field: &str, path: &str) -> Result<&'v Value, String> {
    fields.get(field).ok_or_else(|| format!("mock config: {path} is missing the field {field:?}"))
}

fn reject_unknown_fields(fields: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), String> {
    match fields.keys().find(|field| !allowed.contains(&field.as_str())) {
        Some(unknown) => Err(format!("mock config: {path} has an unknown field {unknown:?} (allowed: {})", allowed.join(", "))),
        None => Ok(()),
    }
}

fn field_path(parent: &str, key: &str) -> String {
    format!("{parent}[{key:?}]")
}

fn sorted_names<'k>(names: impl Iterator<Item = &'k String>) -> String {
    let mut names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        return "none".to_string();
    }
    names.sort_unstable();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RETRY_CONFIG: &str = r#"{
        "StateMachines": {
            "Orders": {
                "TestCases": {
                    "HappyPath": { "Charge": "ChargeOk", "Notify": "NotifyOk" },
                    "RetryPath": { "Charge": "ChargeFlaky" }
                }
            }
        },
        "MockedResponses": {
            "ChargeOk": { "0": { "Return": { "StatusCode": 200, "Payload": { "charged": true } } } },
            "NotifyOk": { "0-1": { "Return": "sent" } },
            "ChargeFlaky": {
                "0": { "Throw": { "Error": "Lambda.ServiceException", "Cause": "busy" } },
                "1-2": { "Throw": { "Error": "Lambda.TooManyRequestsException", "Cause": "slow down" } },
                "3": { "Return": { "charged": true } }
            }
        }
    }"#;

    fn config() -> MockConfig {
        MockConfig::parse(RETRY_CONFIG).expect("valid mock config")
    }

    fn throw(error: &str, cause: &str) -> MockedResponse {
        MockedResponse::Throw { error: error.to_string(), cause: cause.to_string() }
    }

    fn parse_error(text: &str) -> String {
        MockConfig::parse(text).expect_err("invalid mock config")
    }

    #[test]
    fn returns_the_mocked_result_of_an_invocation() {
        assert_eq!(
            config().response("Orders", "HappyPath", "Charge", 0),
            Some(MockedResponse::Return(json!({"StatusCode": 200, "Payload": {"charged": true}})))
        );
    }

    #[test]
    fn return_accepts_any_json_value() {
        assert_eq!(config().response("Orders", "HappyPath", "Notify", 1), Some(MockedResponse::Return(json!("sent"))));
    }

    #[test]
    fn walks_single_invocations_and_inclusive_ranges_in_order() {
        let config = config();
        let responses: Vec<_> = (0..4).map(|n| config.response("Orders", "RetryPath", "Charge", n)).collect();
        assert_eq!(
            responses,
            vec![
                Some(throw("Lambda.ServiceException", "busy")),
                Some(throw("Lambda.TooManyRequestsException", "slow down")),
                Some(throw("Lambda.TooManyRequestsException", "slow down")),
                Some(MockedResponse::Return(json!({"charged": true}))),
            ]
        );
    }

    #[test]
    fn an_invocation_past_the_last_entry_fails_with_states_runtime() {
        assert_eq!(
            config().response("Orders", "RetryPath", "Charge", 4),
            Some(throw(
                "States.Runtime",
                "The mocked response \"ChargeFlaky\" used by state \"Charge\" in test case \"RetryPath\" has no entry for invocation 4 (it defines invocations 0, 1-2, 3)."
            ))
        );
    }

    #[test]
    fn an_invocation_in_a_gap_fails_and_later_keys_still_answer() {
        let config = MockConfig::parse(
            r#"{"StateMachines": {"M": {"TestCases": {"T": {"S": "R"}}}},
                "MockedResponses": {"R": {"2": {"Return": 2}, "0": {"Return": 0}}}}"#,
        )
        .expect("valid mock config");
        assert_eq!(config.response("M", "T", "S", 0), Some(MockedResponse::Return(json!(0))));
        assert!(matches!(config.response("M", "T", "S", 1), Some(MockedResponse::Throw { error, .. }) if error == "States.Runtime"));
        assert_eq!(config.response("M", "T", "S", 2), Some(MockedResponse::Return(json!(2))));
    }

    #[test]
    fn a_response_without_invocations_is_accepted_and_fails_when_used() {
        let config = MockConfig::parse(r#"{"StateMachines": {"M": {"TestCases": {"T": {"S": "R"}}}}, "MockedResponses": {"R": {}}}"#)
            .expect("valid mock config");
        assert_eq!(
            config.response("M", "T", "S", 0),
            Some(throw(
                "States.Runtime",
                "The mocked response \"R\" used by state \"S\" in test case \"T\" has no entry for invocation 0 (it defines no invocations)."
            ))
        );
    }

    #[test]
    fn states_the_test_case_does_not_name_are_not_mocked() {
        let config = config();
        assert_eq!(config.response("Orders", "RetryPath", "Notify", 0), None);
        assert!(!config.test_case("Orders", "RetryPath").expect("known test case").mocks("Notify"));
    }

    #[test]
    fn unknown_state_machines_and_test_cases_are_not_mocked() {
        let config = config();
        assert_eq!(config.response("Other", "HappyPath", "Charge", 0), None);
        assert_eq!(config.response("Orders", "SadPath", "Charge", 0), None);
    }

    #[test]
    fn resolving_an_unknown_test_case_names_the_defined_ones() {
        assert_eq!(
            config().test_case("Orders", "SadPath").map(|_| ()),
            Err("the mock config has no test case \"SadPath\" (defined: HappyPath, RetryPath)".to_string())
        );
    }

    #[test]
    fn resolving_an_unknown_state_machine_names_the_defined_ones() {
        assert_eq!(
            config().test_case("Billing", "HappyPath").map(|_| ()),
            Err("the mock config has no state machine \"Billing\" (it defines: Orders)".to_string())
        );
    }

    #[test]
    fn an_empty_state_machine_name_selects_the_only_state_machine() {
        assert_eq!(config().response("", "HappyPath", "Notify", 0), Some(MockedResponse::Return(json!("sent"))));
    }

    #[test]
    fn an_empty_state_machine_name_is_ambiguous_with_several_state_machines() {
        let config = MockConfig::parse(r#"{"StateMachines": {"B": {"TestCases": {}}, "A": {"TestCases": {}}}, "MockedResponses": {}}"#)
            .expect("valid mock config");
        assert_eq!(config.test_case("", "T").map(|_| ()), Err("the mock config defines 2 state machines (A, B); name the one to use".to_string()));
    }

    #[test]
    fn a_resolved_test_case_answers_by_state() {
        let config = config();
        let mocks = config.test_case("Orders", "RetryPath").expect("known test case");
        assert_eq!(mocks.response("Charge", 3), Some(MockedResponse::Return(json!({"charged": true}))));
    }

    #[test]
    fn rejects_text_that_is_not_json() {
        assert!(parse_error("{").starts_with("mock config is not valid JSON: "));
    }

    #[test]
    fn rejects_a_root_that_is_not_an_object() {
        assert_eq!(parse_error("[]"), "mock config: the mock config must be a JSON object");
    }

    #[test]
    fn requires_both_top_level_fields() {
        assert_eq!(parse_error(r#"{"StateMachines": {}}"#), "mock config: the mock config is missing the field \"MockedResponses\"");
    }

    #[test]
    fn rejects_unknown_top_level_fields() {
        assert_eq!(
            parse_error(r#"{"StateMachines": {}, "MockedResponses": {}, "MockedResponse": {}}"#),
            "mock config: the mock config has an unknown field \"MockedResponse\" (allowed: StateMachines, MockedResponses)"
        );
    }

    #[test]
    fn a_state_machine_needs_test_cases() {
        assert_eq!(
            parse_error(r#"{"StateMachines": {"M": {}}, "MockedResponses": {}}"#),
            "mock config: StateMachines[\"M\"] is missing the field \"TestCases\""
        );
    }

    #[test]
    fn a_test_case_maps_states_to_response_names() {
        assert_eq!(
            parse_error(r#"{"StateMachines": {"M": {"TestCases": {"T": {"S": 1}}}}, "MockedResponses": {}}"#),
            "mock config: StateMachines[\"M\"].TestCases[\"T\"][\"S\"] must be the name of a mocked response (a string)"
        );
    }

    #[test]
    fn rejects_a_test_case_naming_an_undefined_response() {
        assert_eq!(
            parse_error(r#"{"StateMachines": {"M": {"TestCases": {"T": {"S": "Nope"}}}}, "MockedResponses": {}}"#),
            "mock config: StateMachines[\"M\"].TestCases[\"T\"][\"S\"] names \"Nope\", which MockedResponses does not define"
        );
    }

    #[test]
    fn rejects_invocation_keys_that_are_not_numbers_or_ranges() {
        for key in ["first", "", "-1", "1-", "1-2-3", " 1", "+1", "1.5"] {
            let text = format!(r#"{{"StateMachines": {{}}, "MockedResponses": {{"R": {{"{key}": {{"Return": 1}}}}}}}}"#);
            assert_eq!(
                parse_error(&text),
                format!(
                    "mock config: MockedResponses[\"R\"][{key:?}]: invalid invocation key {key:?}: expected a zero-based invocation number (\"0\") or an inclusive range (\"1-2\")"
                ),
                "key {key:?}"
            );
        }
    }

    #[test]
    fn rejects_invocation_numbers_that_overflow() {
        assert_eq!(
            parse_error(r#"{"StateMachines": {}, "MockedResponses": {"R": {"0-99999999999": {"Return": 1}}}}"#),
            "mock config: MockedResponses[\"R\"][\"0-99999999999\"]: invalid invocation key \"0-99999999999\": 99999999999 is too large"
        );
    }

    #[test]
    fn rejects_descending_ranges() {
        assert_eq!(
            parse_error(r#"{"StateMachines": {}, "MockedResponses": {"R": {"3-1": {"Return": 1}}}}"#),
            "mock config: MockedResponses[\"R\"][\"3-1\"]: invalid invocation key \"3-1\": the range starts after it ends"
        );
    }

    #[test]
    fn rejects_overlapping_invocation_keys() {
        assert_eq!(
            parse_error(r#"{"StateMachines": {}, "MockedResponses": {"R": {"0-2": {"Return": 1}, "2": {"Return": 2}}}}"#),
            "mock config: MockedResponses[\"R\"]: invocation keys \"0-2\" and \"2\" overlap; each invocation takes exactly one response"
        );
    }

    #[test]
    fn a_response_entry_holds_exactly_one_of_return_or_throw() {
        let expected = "mock config: MockedResponses[\"R\"][\"0\"] must contain exactly one field, \"Return\" or \"Throw\"";
        for entry in [r#"{}"#, r#"{"Return": 1, "Throw": {"Error": "E", "Cause": "C"}}"#, r#"{"Result": 1}"#] {
            let text = format!(r#"{{"StateMachines": {{}}, "MockedResponses": {{"R": {{"0": {entry}}}}}}}"#);
            assert_eq!(parse_error(&text), expected, "entry {entry}");
        }
    }

    #[test]
    fn throw_requires_string_error_and_cause() {
        assert_eq!(
            parse_error(r#"{"StateMachines": {}, "MockedResponses": {"R": {"0": {"Throw": {"Error": "E"}}}}}"#),
            "mock config: MockedResponses[\"R\"][\"0\"].Throw is missing the field \"Cause\""
        );
        assert_eq!(
            parse_error(r#"{"StateMachines": {}, "MockedResponses": {"R": {"0": {"Throw": {"Error": 5, "Cause": "C"}}}}}"#),
            "mock config: MockedResponses[\"R\"][\"0\"].Throw.Error must be a string"
        );
    }

    #[test]
    fn throw_rejects_unknown_fields() {
        assert_eq!(
            parse_error(r#"{"StateMachines": {}, "MockedResponses": {"R": {"0": {"Throw": {"Error": "E", "Cause": "C", "Message": "M"}}}}}"#),
            "mock config: MockedResponses[\"R\"][\"0\"].Throw has an unknown field \"Message\" (allowed: Error, Cause)"
        );
    }
}
