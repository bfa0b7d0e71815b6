//! The SQLite store through the `Store` trait: durability across reopen, atomic batches, group
//! commit under concurrency, and each read.

mod common;

use common::{append_history, commit, events, execution, execution_arn, fresh_dir};
use std::sync::{mpsc, Arc};
use store::{Document, SqliteStore, Store, Write};

fn document(kind: &str, key: &str, body: &str) -> Document {
    Document { kind: kind.to_owned(), key: key.to_owned(), body: body.to_owned() }
}

#[test]
fn reopening_after_drop_returns_everything_acknowledged() {
    let dir = fresh_dir("reopen");
    let running = execution("Machine", "a", "RUNNING", 1_000, None);
    {
        let store = SqliteStore::open(&dir).unwrap();
        commit(
            &store,
            vec![
                Write::PutDocument(document("state-machine", "Machine", r#"{"definition":"{}"}"#)),
                Write::PutExecution(running.clone()),
                append_history(&running.arn, 1, 3),
                Write::AppendInput { execution_arn: running.arn.clone(), sequence: 0, input: "start".into() },
            ],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&dir).unwrap();
    assert_eq!(store.documents("state-machine").unwrap(), vec![document("state-machine", "Machine", r#"{"definition":"{}"}"#)]);
    assert_eq!(store.execution(&running.arn).unwrap(), Some(running.clone()));
    assert_eq!(store.history(&running.arn).unwrap(), events(1, 3));
    assert_eq!(store.open_executions().unwrap(), vec![(running, vec!["start".to_owned()])]);
}

#[test]
fn a_failing_batch_leaves_nothing_behind_and_reports_its_error() {
    let dir = fresh_dir("atomic");
    let store = SqliteStore::open(&dir).unwrap();
    let first = execution("Machine", "first", "RUNNING", 1, None);
    commit(&store, vec![Write::PutExecution(first.clone()), append_history(&first.arn, 1, 2)]).unwrap();

    let second = execution("Machine", "second", "RUNNING", 2, None);
    let mut finished = first.clone();
    finished.status = "SUCCEEDED".into();
    let error = commit(
        &store,
        vec![
            Write::PutExecution(second.clone()),
            Write::PutExecution(finished),
            append_history(&first.arn, 3, 1),
            // Event ids 1 and 2 are already stored.
            append_history(&first.arn, 1, 1),
        ],
    )
    .unwrap_err();

    assert!(error.0.contains("cannot append history to") && error.0.contains("from event id 1"), "{error}");
    assert_eq!(store.execution(&second.arn).unwrap(), None);
    assert_eq!(store.execution(&first.arn).unwrap(), Some(first.clone()));
    assert_eq!(store.history(&first.arn).unwrap(), events(1, 2));
}

#[test]
fn an_event_that_is_not_json_rejects_its_batch() {
    let dir = fresh_dir("not-json");
    let store = SqliteStore::open(&dir).unwrap();
    let running = execution("Machine", "a", "RUNNING", 1, None);
    let error = commit(
        &store,
        vec![
            Write::PutExecution(running.clone()),
            Write::AppendHistory { execution_arn: running.arn.clone(), first_event_id: 1, events: vec!["{}".into(), "1,2".into()] },
        ],
    )
    .unwrap_err();
    assert!(error.0.starts_with(&format!("event #1 of the history appended to {} from id 1 is not JSON: ", running.arn)), "{error}");
    assert_eq!(store.execution(&running.arn).unwrap(), None);
}

#[test]
fn a_failing_batch_does_not_fail_the_batches_committed_with_it() {
    let dir = fresh_dir("isolation");
    let store = SqliteStore::open(&dir).unwrap();
    let (sender, acknowledgements) = mpsc::channel();
    // Submitted without waiting, so that most of them share commits with the failing one.
    for index in 0..50_u64 {
        let arn = execution_arn("Machine", &index.to_string());
        let history = if index == 25 {
            vec![append_history(&arn, 1, 1), append_history(&arn, 1, 1)]
        } else {
            vec![append_history(&arn, 1, 1)]
        };
        let sender = sender.clone();
        store.submit(history, Box::new(move |outcome| sender.send((index, outcome)).unwrap()));
    }
    drop(sender);
    for (index, outcome) in acknowledgements {
        assert_eq!(outcome.is_err(), index == 25, "batch {index}: {outcome:?}");
        let expected = if index == 25 { vec![] } else { events(1, 1) };
        assert_eq!(store.history(&execution_arn("Machine", &index.to_string())).unwrap(), expected);
    }
}

#[test]
fn concurrent_submitters_are_all_acknowledged_and_stored() {
    let dir = fresh_dir("concurrent");
    let store = Arc::new(SqliteStore::open(&dir).unwrap());
    let submitters: Vec<_> = (0..8)
        .map(|thread| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for index in 0..40 {
                    let record = execution("Machine", &format!("{thread}-{index}"), "SUCCEEDED", index, Some(index + 1));
                    let history = append_history(&record.arn, 1, 5);
                    commit(store.as_ref(), vec![Write::PutExecution(record), history]).unwrap();
                }
            })
        })
        .collect();
    for submitter in submitters {
        submitter.join().unwrap();
    }
    let executions = store.executions(None, None).unwrap();
    assert_eq!(executions.len(), 8 * 40);
    for record in executions {
        assert_eq!(store.history(&record.arn).unwrap(), events(1, 5));
    }
}

#[test]
fn history_comes_back_in_id_order_across_appends() {
    let dir = fresh_dir("history");
    let store = SqliteStore::open(&dir).unwrap();
    let arn = execution_arn("Machine", "a");
    commit(&store, vec![append_history(&arn, 1, 3), append_history(&arn, 4, 1)]).unwrap();
    commit(&store, vec![append_history(&arn, 5, 12)]).unwrap();
    commit(&store, vec![append_history(&arn, 17, 2), Write::AppendHistory { execution_arn: arn.clone(), first_event_id: 19, events: vec![] }])
        .unwrap();
    assert_eq!(store.history(&arn).unwrap(), events(1, 18));
    assert_eq!(store.history(&execution_arn("Machine", "unknown")).unwrap(), Vec::<String>::new());
}

#[test]
fn history_events_keep_their_exact_text() {
    let dir = fresh_dir("event-text");
    let store = SqliteStore::open(&dir).unwrap();
    let arn = execution_arn("Machine", "a");
    let texts = vec![r#"{"b":1,"a":"x\ny","c":1.0e3}"#.to_owned(), r#" [ 1 , {"é":"\u00e9"} ] "#.to_owned(), "\"text\"".to_owned()];
    commit(&store, vec![Write::AppendHistory { execution_arn: arn.clone(), first_event_id: 1, events: texts }]).unwrap();
    // Whitespace around an event is not part of it.
    assert_eq!(store.history(&arn).unwrap(), [r#"{"b":1,"a":"x\ny","c":1.0e3}"#, r#"[ 1 , {"é":"\u00e9"} ]"#, "\"text\""]);
}

#[test]
fn open_executions_come_with_their_inputs_in_sequence_order() {
    let dir = fresh_dir("open");
    let store = SqliteStore::open(&dir).unwrap();
    let older = execution("Machine", "older", "RUNNING", 10, None);
    let newer = execution("Other", "newer", "RUNNING", 20, None);
    let without_inputs = execution("Machine", "quiet", "RUNNING", 30, None);
    let closed = execution("Machine", "closed", "SUCCEEDED", 5, Some(6));
    let input = |execution: &store::ExecutionRecord, sequence: u64| Write::AppendInput {
        execution_arn: execution.arn.clone(),
        sequence,
        input: format!("{}#{sequence}", execution.name),
    };
    commit(
        &store,
        vec![
            Write::PutExecution(newer.clone()),
            Write::PutExecution(older.clone()),
            Write::PutExecution(closed.clone()),
            Write::PutExecution(without_inputs.clone()),
            input(&older, 1),
            input(&newer, 0),
            input(&closed, 0),
        ],
    )
    .unwrap();
    commit(&store, vec![input(&older, 0), input(&older, 2), input(&newer, 1)]).unwrap();

    assert_eq!(
        store.open_executions().unwrap(),
        vec![
            (older, vec!["older#0".to_owned(), "older#1".to_owned(), "older#2".to_owned()]),
            (newer, vec!["newer#0".to_owned(), "newer#1".to_owned()]),
            (without_inputs, vec![]),
        ]
    );
}

#[test]
fn executions_are_listed_newest_first_by_state_machine_and_status() {
    let dir = fresh_dir("list");
    let store = SqliteStore::open(&dir).unwrap();
    let a1 = execution("A", "1", "SUCCEEDED", 100, Some(150));
    let a2 = execution("A", "2", "RUNNING", 200, None);
    let a3 = execution("A", "3", "FAILED", 200, Some(250));
    let b1 = execution("B", "1", "RUNNING", 150, None);
    let records = [&a1, &a2, &a3, &b1];
    commit(&store, records.iter().map(|record| Write::PutExecution((*record).clone())).collect()).unwrap();

    let machine_a = a1.state_machine_arn.as_str();
    assert_eq!(store.executions(Some(machine_a), None).unwrap(), vec![a3.clone(), a2.clone(), a1.clone()]);
    assert_eq!(store.executions(Some(machine_a), Some("RUNNING")).unwrap(), vec![a2.clone()]);
    assert_eq!(store.executions(None, Some("RUNNING")).unwrap(), vec![a2.clone(), b1.clone()]);
    assert_eq!(store.executions(None, None).unwrap(), vec![a3.clone(), a2.clone(), b1.clone(), a1.clone()]);
    assert_eq!(store.executions(Some("arn:none"), None).unwrap(), vec![]);

    // Putting an execution again replaces its row.
    let mut a2_done = a2.clone();
    a2_done.status = "SUCCEEDED".into();
    a2_done.stop_ms = Some(300);
    commit(&store, vec![Write::PutExecution(a2_done.clone())]).unwrap();
    assert_eq!(store.execution(&a2.arn).unwrap(), Some(a2_done));
    assert_eq!(store.executions(Some(machine_a), Some("RUNNING")).unwrap(), vec![]);
}

#[test]
fn retention_finds_closed_executions_and_deletes_all_their_rows() {
    let dir = fresh_dir("retention");
    let store = SqliteStore::open(&dir).unwrap();
    let old = execution("Machine", "old", "SUCCEEDED", 10, Some(20));
    let recent = execution("Machine", "recent", "FAILED", 10, Some(200));
    let running = execution("Machine", "running", "RUNNING", 10, None);
    let mut writes = Vec::new();
    for record in [&old, &recent, &running] {
        writes.push(Write::PutExecution(record.clone()));
        writes.push(append_history(&record.arn, 1, 4));
        writes.push(Write::AppendInput { execution_arn: record.arn.clone(), sequence: 0, input: "start".into() });
    }
    commit(&store, writes).unwrap();

    assert_eq!(store.closed_before(100).unwrap(), vec![old.arn.clone()]);
    assert_eq!(store.closed_before(201).unwrap(), vec![old.arn.clone(), recent.arn.clone()]);

    commit(&store, vec![Write::DeleteExecution { arn: old.arn.clone() }]).unwrap();
    assert_eq!(store.execution(&old.arn).unwrap(), None);
    assert_eq!(store.history(&old.arn).unwrap(), Vec::<String>::new());
    assert_eq!(store.closed_before(100).unwrap(), Vec::<String>::new());
    assert_eq!(store.history(&recent.arn).unwrap(), events(1, 4));

    // An execution deleted while running takes its input log along.
    commit(&store, vec![Write::DeleteExecution { arn: running.arn.clone() }]).unwrap();
    assert_eq!(store.open_executions().unwrap(), vec![]);
    // The same id range can be written again once deleted.
    commit(&store, vec![append_history(&old.arn, 1, 1)]).unwrap();
}

#[test]
fn documents_are_put_replaced_and_deleted_by_kind_and_key() {
    let dir = fresh_dir("documents");
    let store = SqliteStore::open(&dir).unwrap();
    commit(
        &store,
        vec![
            Write::PutDocument(document("activity", "b", "1")),
            Write::PutDocument(document("activity", "a", "2")),
            Write::PutDocument(document("tags", "a", "3")),
        ],
    )
    .unwrap();
    assert_eq!(store.documents("activity").unwrap(), vec![document("activity", "a", "2"), document("activity", "b", "1")]);

    commit(
        &store,
        vec![
            Write::PutDocument(document("activity", "b", "4")),
            Write::DeleteDocument { kind: "activity".into(), key: "a".into() },
            Write::DeleteDocument { kind: "activity".into(), key: "missing".into() },
        ],
    )
    .unwrap();
    assert_eq!(store.documents("activity").unwrap(), vec![document("activity", "b", "4")]);
    assert_eq!(store.documents("tags").unwrap(), vec![document("tags", "a", "3")]);
    assert_eq!(store.documents("setting").unwrap(), vec![]);
}

#[test]
fn a_corrupt_row_is_an_error_not_a_panic() {
    let dir = fresh_dir("corrupt");
    let arn = execution_arn("Machine", "a");
    {
        let store = SqliteStore::open(&dir).unwrap();
        commit(&store, vec![append_history(&arn, 1, 2)]).unwrap();
    }
    let database = rusqlite::Connection::open(dir.join(store::sqlite::DATABASE_FILE)).unwrap();
    database.execute("UPDATE history SET events = '[{\"id\":1}, broken'", []).unwrap();
    drop(database);

    let error = SqliteStore::open(&dir).unwrap().history(&arn).unwrap_err();
    assert!(error.0.starts_with(&format!("cannot read the history of {arn}: a history chunk is not a JSON array: ")), "{error}");
}

#[test]
fn a_store_written_by_a_newer_schema_is_refused() {
    let dir = fresh_dir("newer-schema");
    drop(SqliteStore::open(&dir).unwrap());
    let database = rusqlite::Connection::open(dir.join(store::sqlite::DATABASE_FILE)).unwrap();
    database.pragma_update(None, "user_version", 99).unwrap();
    drop(database);

    let error = SqliteStore::open(&dir).err().unwrap();
    assert!(error.0.ends_with("schema version 99 is newer than this build knows (1)"), "{error}");
}

#[test]
fn executions_come_page_by_page_in_start_order_whatever_the_store() {
    let dir = fresh_dir("pages");
    let stores: [Arc<dyn Store>; 2] = [Arc::new(SqliteStore::open(&dir).unwrap()), Arc::new(store::MemoryStore::new())];
    for store in stores {
        // Three in the same millisecond (stored in this order), one earlier, one of another machine.
        let same_ms = ["c", "a", "b"].map(|name| execution("Run", name, "RUNNING", 20, None));
        let earlier = execution("Run", "z", "SUCCEEDED", 10, Some(11));
        let other = execution("Other", "o", "RUNNING", 15, None);
        let writes = same_ms.iter().chain([&earlier, &other]).cloned().map(Write::PutExecution).collect();
        commit(store.as_ref(), writes).unwrap();
        // Closing one rewrites its row without moving it.
        let mut closed = same_ms[0].clone();
        closed.status = "SUCCEEDED".into();
        commit(store.as_ref(), vec![Write::PutExecution(closed)]).unwrap();
        let run_arn = same_ms[0].state_machine_arn.clone();
        let mut names = Vec::new();
        let mut after = None;
        loop {
            let page = store.executions_after(&run_arn, after, 2).unwrap();
            let Some((last, _)) = page.last() else { break };
            after = Some(*last);
            names.extend(page.into_iter().map(|(_, record)| record.name));
        }
        assert_eq!(names, ["z", "c", "a", "b"]);
    }
}
