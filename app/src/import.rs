//! The Import page: drop or choose a CSV, see at once whether its header is right and how
//! many rows it has and about how long it will take, then start the import as a
//! background task and follow it here (or anywhere else: it keeps running).
//!
//! The browser sends the file to the same REST endpoints scripts use
//! (`/api/v1/imports/check`, then `/api/v1/imports`): a file is not a server-function
//! argument, and one upload path means one set of limits and checks.

use leptos::prelude::*;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

use crate::bulk::describe_duration;
use crate::tasks::TaskSummary;
use crate::ui::TaskBar;

/// What checking a file found, before anything is imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImportCheck {
    pub file_name: String,
    pub rows: u64,
    /// Rows that will fail whatever happens (bad UTF-8, wrong cell count, duplicate SKU).
    pub row_errors: u64,
    pub columns: Vec<String>,
    /// How long the import would take, made by the server the way the task makes it.
    pub estimate: task_model::Estimate,
}

/// Where the page stands. (The server renders `Idle`; the rest happens in the browser.)
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Stage {
    Idle,
    Checking(String),
    Ready(ImportCheck),
    Starting(ImportCheck),
    Running(TaskSummary),
    Refused { code: String, message: String },
}

fn rows(n: u64) -> String {
    format!("{n} row{}", if n == 1 { "" } else { "s" })
}

#[component]
pub fn ImportPage() -> impl IntoView {
    let stage = RwSignal::new(Stage::Idle);
    let dragging = RwSignal::new(false);
    let input = NodeRef::<leptos::html::Input>::new();
    // A fresh key per checked file: clicking "Start" twice starts one import.
    #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
    let key = StoredValue::new(String::new());

    let check = move || {
        #[cfg(feature = "hydrate")]
        client::check(input, stage, key);
    };
    let start = move |_| {
        #[cfg(feature = "hydrate")]
        client::start(input, stage, key);
    };
    let reset = move |_| {
        if let Some(input) = input.get() {
            input.set_value("");
        }
        stage.set(Stage::Idle);
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        #[cfg(feature = "hydrate")]
        if client::take_dropped(&ev, input) {
            check();
        }
    };

    view! {
        <section class="page import-page">
            <div class="page-header">
                <h1>"Import items"</h1>
            </div>
            <div class="import-layout">
                <div class="stack">
                    <label
                        class="dropzone"
                        class:dragging=move || dragging.get()
                        class:busy=move || matches!(stage.get(), Stage::Checking(_) | Stage::Starting(_))
                        on:dragover=move |ev: leptos::ev::DragEvent| {
                            ev.prevent_default();
                            dragging.set(true);
                        }
                        on:dragleave=move |_| dragging.set(false)
                        on:drop=on_drop
                    >
                        <span class="dropzone-title">"Drop a CSV file here"</span>
                        <span class="muted">"or "<span class="link">"choose a file"</span>" · up to 10 MB and 50,000 rows"</span>
                        <input
                            node_ref=input
                            id="csv-file"
                            class="visually-hidden"
                            type="file"
                            accept=".csv,text/csv"
                            aria-describedby="import-help"
                            on:change=move |_| check()
                        />
                    </label>
                    <div aria-live="polite">{move || stage_view(stage.get(), start, reset)}</div>
                </div>
                <aside class="card import-help" id="import-help">
                    <h2>"The file"</h2>
                    <p>"A header row, then one item per row. UTF-8 (as saved by “CSV UTF-8”), comma-separated."</p>
                    <dl class="columns">
                        <dt><code>"sku"</code>" *"</dt><dd>"Your item code; rows update the item with the same SKU."</dd>
                        <dt><code>"title"</code>" *"</dt><dd>"Up to 200 characters."</dd>
                        <dt><code>"price"</code>" *"</dt><dd>"With a dot: "<code>"12.50"</code></dd>
                        <dt><code>"currency"</code></dt><dd>"ISO code, "<code>"EUR"</code>" if empty."</dd>
                        <dt><code>"quantity"</code></dt><dd>"A whole number, 0 if empty."</dd>
                        <dt><code>"description"</code>", "<code>"image_url"</code>", "<code>"category"</code></dt><dd>"Optional. Images are checked with the marketplace."</dd>
                    </dl>
                    <p class="muted">"* required. Columns in any order. An error report from an earlier import can be fixed and uploaded again as it is."</p>
                    <p class="downloads">
                        <a class="button secondary" href="/api/v1/imports/template.csv" download>"Download template"</a>
                        <a class="link" href="/api/v1/imports/sample.csv" download>"Sample file (300 items)"</a>
                    </p>
                </aside>
            </div>
        </section>
    }
}

fn stage_view(
    stage: Stage,
    start: impl Fn(leptos::ev::MouseEvent) + Copy + 'static,
    reset: impl Fn(leptos::ev::MouseEvent) + Copy + Send + Sync + 'static,
) -> AnyView {
    match stage {
        Stage::Idle => ().into_any(),
        Stage::Checking(name) => view! {
            <p class="card import-status" aria-busy="true">"Checking " <strong>{name}</strong> "…"</p>
        }
        .into_any(),
        Stage::Refused { code, message } => view! {
            <div class="alert error import-refused" role="alert" data-code=code>
                <strong>"This file cannot be imported. "</strong>
                {message}
                <div class="form-actions">
                    <button type="button" class="button secondary" on:click=reset>"Choose another file"</button>
                </div>
            </div>
        }
        .into_any(),
        Stage::Ready(check) => confirm(check, false, start, reset),
        Stage::Starting(check) => confirm(check, true, start, reset),
        // The task as the live store knows it (the tray's source), from the moment the
        // stream has seen it; until then as the upload's answer said.
        Stage::Running(started) => {
            let store = crate::live::use_live();
            let id = started.id;
            // Only this task's changes re-render the card (the memo drops the others').
            let task = Memo::new(move |_| {
                store
                    .tasks
                    .with(|tasks| tasks.iter().find(|t| t.id == id).cloned())
                    .filter(|known| known.seq >= started.seq)
                    .unwrap_or_else(|| started.clone())
            });
            (move || progress_view(task.get(), reset)).into_any()
        }
    }
}

/// An import under way, or its end.
fn progress_view(
    task: TaskSummary,
    reset: impl Fn(leptos::ev::MouseEvent) + Copy + Send + Sync + 'static,
) -> AnyView {
    {
        {
            let c = task.counts;
            let done = c.done();
            let over = task.is_over();
            let report = format!("/api/v1/tasks/{}/report.csv", task.id);
            view! {
                <div class="card import-progress" data-status=task.status.as_str()>
                    <h2>{task.label.clone()}</h2>
                    <TaskBar counts=c label="Rows done" />
                    <p class="counts">
                        {format!("{done} of {} · {} imported · {} failed", task_model::plural(c.total, "row", "rows"), c.succeeded, c.failed)}
                        {(!over).then(|| task.eta_seconds.map(|eta| format!(" · {} left", describe_duration(eta))))}
                    </p>
                    {over.then(|| view! {
                        <p class="import-outcome">
                            {task_model::words::finished(task.presentation(), &task.label, task.status, &c)
                                .map(|said| said.body)}
                        </p>
                    })}
                    <div class="form-actions">
                        {(over && c.failed > 0).then(|| view! {
                            <a class="button primary" href=report.clone() download>"Download error report"</a>
                        })}
                        {over.then(|| view! { <A href="/" attr:class="button secondary">"Go to the catalog"</A> })}
                        {over.then(|| view! {
                            <button type="button" class="button secondary" on:click=reset>"Import another file"</button>
                        })}
                    </div>
                </div>
            }
            .into_any()
        }
    }
}

/// The confirmation: what the file holds and about how long it takes, before anything
/// starts.
fn confirm(
    check: ImportCheck,
    starting: bool,
    start: impl Fn(leptos::ev::MouseEvent) + Copy + 'static,
    reset: impl Fn(leptos::ev::MouseEvent) + Copy + Send + Sync + 'static,
) -> AnyView {
    view! {
        <div class="card import-confirm" role="group" aria-label="Import this file?">
            <h2>{format!("Import {}?", rows(check.rows))}</h2>
            <p>
                <strong>{check.file_name.clone()}</strong>
                {format!(
                    " · {} · {} ({})",
                    rows(check.rows),
                    check.estimate.about(),
                    check.estimate.source(),
                )}
            </p>
            {(check.row_errors > 0).then(|| view! {
                <p class="alert warning">
                    {format!(
                        "{} already cannot be imported (invalid text, a wrong number of cells or a repeated SKU). They will be listed in the error report; the other rows go in.",
                        rows(check.row_errors)
                    )}
                </p>
            })}
            <p class="muted">"The import runs in the background: you can keep working, and follow it here or in the task tray."</p>
            <div class="form-actions">
                <button type="button" class="button primary" on:click=start disabled=starting>{if starting { "Starting…" } else { "Start in background" }}</button>
                <button type="button" class="button secondary" on:click=reset>"Choose another file"</button>
            </div>
        </div>
    }
    .into_any()
}

/// The browser side: reading the chosen or dropped file and talking to the API.
#[cfg(feature = "hydrate")]
mod client {
    use super::*;
    use serde::de::DeserializeOwned;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;

    #[derive(Deserialize)]
    struct ErrorBody {
        error: ErrorDetail,
    }

    #[derive(Deserialize)]
    struct ErrorDetail {
        code: String,
        message: String,
    }

    fn refused(code: &str, message: impl Into<String>) -> Stage {
        Stage::Refused {
            code: code.to_owned(),
            message: message.into(),
        }
    }

    fn chosen(input: NodeRef<leptos::html::Input>) -> Option<web_sys::File> {
        input.get_untracked()?.files()?.get(0)
    }

    /// Moves a dropped file into the file input, so both paths read it the same way.
    pub fn take_dropped(ev: &leptos::ev::DragEvent, input: NodeRef<leptos::html::Input>) -> bool {
        let (Some(files), Some(input)) = (
            ev.data_transfer().and_then(|t| t.files()),
            input.get_untracked(),
        ) else {
            return false;
        };
        if files.length() == 0 {
            return false;
        }
        input.set_files(Some(&files));
        true
    }

    async fn send<T: DeserializeOwned>(
        method: &str,
        path: &str,
        file: Option<&web_sys::File>,
        key: Option<&str>,
    ) -> Result<T, Stage> {
        let unreachable = |_| {
            refused(
                "transport",
                "Stockroom could not be reached. Check your connection and try again.",
            )
        };
        let init = web_sys::RequestInit::new();
        init.set_method(method);
        if let Some(file) = file {
            let form = web_sys::FormData::new().map_err(unreachable)?;
            form.append_with_blob_and_filename("file", file, &file.name())
                .map_err(unreachable)?;
            init.set_body(&form);
        }
        let headers = web_sys::Headers::new().map_err(unreachable)?;
        headers
            .set("accept", "application/json")
            .map_err(unreachable)?;
        if let Some(key) = key {
            headers.set("idempotency-key", key).map_err(unreachable)?;
        }
        init.set_headers(&headers);
        let window = web_sys::window().ok_or_else(|| refused("transport", "No browser window."))?;
        let response: web_sys::Response =
            JsFuture::from(window.fetch_with_str_and_init(path, &init))
                .await
                .map_err(unreachable)?
                .dyn_into()
                .map_err(unreachable)?;
        let text = JsFuture::from(response.text().map_err(unreachable)?)
            .await
            .map_err(unreachable)?
            .as_string()
            .unwrap_or_default();
        if response.ok() {
            serde_json::from_str(&text)
                .map_err(|_| refused("bad_reply", "Stockroom answered something unexpected."))
        } else if response.status() == 401 {
            let _ = window.location().set_href("/login?next=/import");
            Err(refused("unauthorized", "Please log in again."))
        } else {
            Err(match serde_json::from_str::<ErrorBody>(&text) {
                Ok(body) => refused(&body.error.code, body.error.message),
                Err(_) => refused(
                    "http",
                    format!("The upload failed (HTTP {}).", response.status()),
                ),
            })
        }
    }

    pub fn check(
        input: NodeRef<leptos::html::Input>,
        stage: RwSignal<Stage>,
        key: StoredValue<String>,
    ) {
        let Some(file) = chosen(input) else {
            return;
        };
        if !file.name().to_lowercase().ends_with(".csv")
            && !file.type_().contains("csv")
            && !file.type_().is_empty()
        {
            stage.set(refused(
                "not_csv",
                format!(
                    "“{}” is not a CSV file. Save your sheet as “CSV UTF-8” and choose that file.",
                    file.name()
                ),
            ));
            return;
        }
        key.set_value(format!("import-{}-{}", js_sys_now(), file.size() as u64));
        stage.set(Stage::Checking(file.name()));
        leptos::task::spawn_local(async move {
            match send::<ImportCheck>("POST", "/api/v1/imports/check", Some(&file), None).await {
                Ok(check) => stage.set(Stage::Ready(check)),
                Err(refusal) => stage.set(refusal),
            }
        });
    }

    fn js_sys_now() -> u64 {
        web_sys::window()
            .and_then(|w| w.performance())
            .map(|p| (p.time_origin() + p.now()) as u64)
            .unwrap_or_default()
    }

    pub fn start(
        input: NodeRef<leptos::html::Input>,
        stage: RwSignal<Stage>,
        key: StoredValue<String>,
    ) {
        let (Some(file), Stage::Ready(check)) = (chosen(input), stage.get_untracked()) else {
            return;
        };
        stage.set(Stage::Starting(check));
        let key = key.get_value();
        leptos::task::spawn_local(async move {
            match send::<TaskSummary>("POST", "/api/v1/imports", Some(&file), Some(&key)).await {
                Ok(task) => stage.set(Stage::Running(task)),
                Err(refusal) => stage.set(refusal),
            }
        });
    }
}
