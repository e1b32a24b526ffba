//! The settings pane through the real binary in a pseudo-terminal: open it, pick another model
//! folder, apply, and the next answer comes from that model; quit and resume the session, and
//! the line where the model changed is in the transcript again.

use super::pty::{start, tiny_model, wait_exit, Running};
use crate::tiny_gemma::{self, Recipe, RECIPE};

fn quit(run: &mut Running) {
    run.session.send(b"\x11");
    let status = wait_exit(run);
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn a_model_picked_in_the_settings_pane_answers_and_the_change_is_kept_in_the_session() {
    let root = tempfile::tempdir().expect("temp dir");
    let r = root.path();
    let first = tiny_model(r);
    let second = r.join("second-gemma2");
    let recipe = Recipe {
        seed: 2,
        ..RECIPE.clone()
    };
    tiny_gemma::write_with_recipe(&second, &recipe).expect("second model");

    let mut run = start(r, &first, &[]);
    run.session
        .wait_for("the first model", |t| t.contains("tiny-gemma2 ready"));
    run.session.send(b"Hello there\r");
    run.session
        .wait_for("the first answer", |t| t.contains(" ready") && t.contains("tok/s"));

    run.session.send(b"\x13"); // Ctrl+S
    run.session.wait_for("the settings pane", |t| {
        t.contains("Settings") && t.contains("Quantization")
    });
    run.session.send(b"\x1b[B"); // Down: from Runs on to Model
    run.session.send(b"\r"); // type a model name
    run.session.send(&[0x7f; 300]); // clear the current one
    run.session.send(second.to_str().expect("utf-8 path").as_bytes());
    run.session.send(b"\r");
    run.session.wait_for("the typed folder", |t| {
        t.contains("second-gemma2") && t.contains("[session]")
    });
    run.session.send(b"a"); // apply
    run.session
        .wait_for("the second model loaded, marked in the transcript", |t| {
            t.contains("second-gemma2 ready") && t.contains("— second-gemma2, cpu —")
        });
    run.session.send(b"And now?\r");
    let screen = run.session.wait_for("the second answer", |t| {
        t.contains("And now?") && t.contains("second-gemma2 ready") && t.contains("tok/s")
    });
    assert!(!screen.contains("Settings ·"), "the pane closed on apply:\n{screen}");
    quit(&mut run);

    let mut again = start(r, &first, &["--resume", "last"]);
    let screen = again.session.wait_for("the resumed session", |t| {
        t.contains("Hello there") && t.contains("And now?") && t.contains("tiny-gemma2 ready")
    });
    assert!(
        screen.contains("— second-gemma2, cpu —"),
        "the change line is saved:\n{screen}"
    );
    let rows: Vec<&str> = screen.lines().collect();
    let at = |needle: &str| rows.iter().position(|l| l.contains(needle)).expect(needle);
    assert!(at("Hello there") < at("— second-gemma2, cpu —") && at("— second-gemma2, cpu —") < at("And now?"));
    quit(&mut again);
}
