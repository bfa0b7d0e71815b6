//! Names as the Serverless Framework and serverless-step-functions give them (logical ids of the
//! CloudFormation stack), and the ARNs of local resources.

/// `normalizeName`: the first letter upper-cased.
fn normalize(name: &str) -> String {
    let mut characters = name.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// `getNormalizedFunctionName`: `-` and `_` spelled out, first letter upper-cased.
pub fn normalized_function_name(name: &str) -> String {
    normalize(&name.replace('-', "Dash").replace('_', "Underscore"))
}

/// `map` → `MapLambdaFunction`, `my-fn` → `MyDashfnLambdaFunction`.
pub fn function_logical_id(function_key: &str) -> String {
    format!("{}LambdaFunction", normalized_function_name(function_key))
}

/// serverless-step-functions: an `id` or `name` is the logical id itself (normalized); otherwise
/// the key followed by `StepFunctionsStateMachine`.
pub fn state_machine_logical_id(key: &str, id: Option<&str>, name: Option<&str>) -> String {
    match id.or(name) {
        Some(custom) => normalized_function_name(custom),
        None => format!("{}StepFunctionsStateMachine", normalized_function_name(key)),
    }
}

pub fn activity_logical_id(name: &str) -> String {
    format!("{}StepFunctionsActivity", normalized_function_name(name))
}

/// Region and account of every ARN a deployment names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub region: String,
    pub account: String,
}

impl Partition {
    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!("arn:aws:{service}:{}:{}:{resource}", self.region, self.account)
    }

    pub fn function(&self, name: &str) -> String {
        self.arn("lambda", &format!("function:{name}"))
    }

    pub fn state_machine(&self, name: &str) -> String {
        self.arn("states", &format!("stateMachine:{name}"))
    }

    pub fn activity(&self, name: &str) -> String {
        self.arn("states", &format!("activity:{name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_ids_follow_the_framework() {
        assert_eq!(function_logical_id("map"), "MapLambdaFunction");
        assert_eq!(function_logical_id("LambdaMap"), "LambdaMapLambdaFunction");
        assert_eq!(function_logical_id("my-fn_x"), "MyDashfnUnderscorexLambdaFunction");
        assert_eq!(state_machine_logical_id("hellostepfunc1", None, None), "Hellostepfunc1StepFunctionsStateMachine");
        assert_eq!(state_machine_logical_id("hello", None, Some("myStateMachine")), "MyStateMachine");
        assert_eq!(state_machine_logical_id("hello", Some("Custom"), Some("other")), "Custom");
        assert_eq!(activity_logical_id("outsideTask"), "OutsideTaskStepFunctionsActivity");
    }

    #[test]
    fn arns_keep_aws_form() {
        let partition = Partition { region: "us-east-1".into(), account: "000000000000".into() };
        assert_eq!(partition.function("svc-dev-map"), "arn:aws:lambda:us-east-1:000000000000:function:svc-dev-map");
        assert_eq!(partition.activity("a"), "arn:aws:states:us-east-1:000000000000:activity:a");
    }
}
