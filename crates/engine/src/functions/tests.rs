use super::*;
use compute::sdk_environment::SDK_CREDENTIAL;
use compute::{Outcome, FunctionSpec as Spec};
use std::io::Write as _;

/// Answers every invocation with the function's environment and event; throttles a function
/// whose reserved concurrency is 0, as the process runner would.
#[derive(Default)]
struct EchoRunner;

impl FunctionRunner for EchoRunner {
    fn invoke(&self, spec: &Spec, payload: &Value, _: &Cancellation) -> Invocation {
        let answer = serde_json::json!({ "environment": spec.environment, "event": payload });
        let outcome = if spec.concurrency.reserved == Some(0) { Outcome::Throttled } else { Outcome::Returned(answer.clone()) };
        Invocation { request_id: "r".into(), outcome, payload: answer.to_string(), logs: "line\n".into(), log_stream_name: String::new() }
    }
}

fn zip_of(text: &str) -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    let mut writer = zip::ZipWriter::new(&mut bytes);
    writer.start_file("app.py", zip::write::SimpleFileOptions::default()).expect("entry");
    writer.write_all(text.as_bytes()).expect("write");
    writer.finish().expect("finish");
    bytes.into_inner()
}

fn settings() -> FunctionSettings {
    FunctionSettings {
        runtime: "python3.12".into(),
        role: "arn:aws:iam::000000000000:role/r".into(),
        handler: "app.handler".into(),
        description: String::new(),
        timeout_seconds: 3,
        memory_mb: 128,
        environment: BTreeMap::from([("STAGE".to_owned(), "test".to_owned())]),
    }
}

fn open(store: &Arc<store::MemoryStore>, data_dir: &std::path::Path, runner: Arc<EchoRunner>) -> Functions {
    let config = FunctionsConfig {
        region: "us-east-1".into(),
        account: "000000000000".into(),
        data_dir: Some(data_dir.to_path_buf()),
        endpoint: Some("http://127.0.0.1:8083".into()),
        external_s3: None,
    };
    Functions::open(store.clone(), config, FunctionSet::new(), runner).expect("opened")
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchyard-functions-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test]
async fn a_created_function_survives_a_reopen_and_runs_from_its_unpacked_code() {
    let (store, data) = (Arc::new(store::MemoryStore::new()), tempdir());
    let functions = open(&store, &data, Arc::default());
    let created = functions.create("echo", settings(), CodeSource::Zip(zip_of("v1")), Vec::new()).await.expect("created");
    assert_eq!(created.arn, "arn:aws:lambda:us-east-1:000000000000:function:echo");
    let reopened = open(&store, &data, Arc::default());
    assert_eq!(reopened.get("echo", None).expect("kept"), created);
    assert_eq!(reopened.get(&created.arn, Some(LATEST)).expect("by ARN").name, "echo");
    let spec = reopened.target("echo", None).expect("target");
    let HandlerSource::Directory(directory) = &spec.source else { panic!("not a directory") };
    assert_eq!(std::fs::read_to_string(directory.join("app.py")).expect("unpacked"), "v1");
}

#[tokio::test]
async fn names_are_taken_once_and_missing_functions_are_not_found() {
    let functions = open(&Arc::new(store::MemoryStore::new()), &tempdir(), Arc::default());
    functions.create("echo", settings(), CodeSource::Zip(zip_of("v1")), Vec::new()).await.expect("created");
    let again = functions.create("echo", settings(), CodeSource::Zip(zip_of("v1")), Vec::new()).await;
    assert_eq!(again, Err(FunctionsError::Conflict("Function already exist: echo".into())));
    assert_eq!(
        functions.get("other", None),
        Err(FunctionsError::NotFound("Function not found: arn:aws:lambda:us-east-1:000000000000:function:other".into()))
    );
    assert!(matches!(functions.get("echo", Some("7")), Err(FunctionsError::NotFound(_))));
    functions.delete("echo", None).await.expect("deleted");
    assert!(functions.list().is_empty());
    assert!(matches!(functions.delete("echo", None).await, Err(FunctionsError::NotFound(_))));
}

#[tokio::test]
async fn updates_make_new_revisions_and_check_the_expected_one() {
    let functions = open(&Arc::new(store::MemoryStore::new()), &tempdir(), Arc::default());
    let created = functions.create("echo", settings(), CodeSource::Zip(zip_of("v1")), Vec::new()).await.expect("created");
    let update = SettingsUpdate { timeout_seconds: Some(9), ..SettingsUpdate::default() };
    let updated = functions.update_settings("echo", update, Some(&created.revision_id)).await.expect("updated");
    assert_eq!(updated.settings.timeout_seconds, 9);
    assert_eq!(updated.settings.handler, "app.handler");
    assert_ne!(updated.revision_id, created.revision_id);
    let stale = functions.update_code("echo", CodeSource::Zip(zip_of("v2")), Some(&created.revision_id)).await;
    assert!(matches!(stale, Err(FunctionsError::PreconditionFailed(_))));
    let recoded = functions.update_code("echo", CodeSource::Zip(zip_of("v2")), None).await.expect("new code");
    assert_ne!(recoded.code, created.code);
}

#[tokio::test]
async fn functions_get_the_endpoint_and_credentials_under_their_own_variables() {
    let functions = open(&Arc::new(store::MemoryStore::new()), &tempdir(), Arc::default());
    functions.create("echo", settings(), CodeSource::Zip(zip_of("v1")), Vec::new()).await.expect("created");
    let invocation = functions.invoke("echo", None, &serde_json::json!({"n": 1}), &Cancellation::new()).expect("invoked");
    let Outcome::Returned(answer) = invocation.outcome else { panic!("no answer") };
    assert_eq!(answer["environment"]["AWS_ENDPOINT_URL"], "http://127.0.0.1:8083");
    assert_eq!(answer["environment"]["AWS_ACCESS_KEY_ID"], SDK_CREDENTIAL);
    assert_eq!(answer["environment"]["AWS_REGION"], "us-east-1");
    assert_eq!(answer["environment"]["STAGE"], "test");
    assert_eq!(answer["event"], serde_json::json!({"n": 1}));
}

#[tokio::test]
async fn reserved_concurrency_reaches_the_runner_and_throttles() {
    let functions = open(&Arc::new(store::MemoryStore::new()), &tempdir(), Arc::default());
    functions.create("echo", settings(), CodeSource::Zip(zip_of("v1")), Vec::new()).await.expect("created");
    functions.set_reserved_concurrency("echo", Some(0)).await.expect("set");
    assert_eq!(functions.invoke("echo", None, &Value::Null, &Cancellation::new()).map(drop), Err(FunctionsError::Throttled));
    assert_eq!(functions.get("echo", None).expect("kept").reserved_concurrency, Some(0));
    functions.set_reserved_concurrency("echo", None).await.expect("removed");
    assert!(functions.invoke("echo", None, &Value::Null, &Cancellation::new()).is_ok());
}

#[test]
fn references_name_functions_with_their_qualifiers() {
    assert_eq!(parse_reference("echo"), ("echo", None));
    assert_eq!(parse_reference("echo:$LATEST"), ("echo", Some("$LATEST")));
    assert_eq!(parse_reference("000000000000:function:echo:1"), ("echo", Some("1")));
    assert_eq!(parse_reference("arn:aws:lambda:us-east-1:000000000000:function:echo"), ("echo", None));
    assert_eq!(parse_reference("arn:aws:lambda:us-east-1:000000000000:function:echo:live"), ("echo", Some("live")));
}
