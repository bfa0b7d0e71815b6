//! Step Functions Local mock configuration (`--mock-config FILE` + `--test-case NAME`): mocked
//! responses per state, consumed by invocation count, as AWS documents the format.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum MockedResponse {
    Return(Value),
    Throw { error: String, cause: String },
}

#[derive(Debug, Clone)]
pub struct MockConfig {}

impl MockConfig {
    pub fn parse(text: &str) -> Result<MockConfig, String> {
        todo!("{text}")
    }

    /// The response for the `invocation`-th (0-based) call of `state` in `test_case` of
    /// `state_machine`; `None` when the state is not mocked.
    pub fn response(&self, state_machine: &str, test_case: &str, state: &str, invocation: u32) -> Option<MockedResponse> {
        todo!("{state_machine}{test_case}{state}{invocation}")
    }
}
