//! The Import page: drop or choose a CSV, see at once whether its header is right and how
//! many rows it has and about how long it will take, then start the import as a
//! background task and follow it here (or anywhere else: it keeps running).
//!
//! The browser sends the file to the same REST endpoints scripts use
//! (`/api/v1/imports/check`, then `/api/v1/imports`): a file is not a server-function
//! argument, and one upload path means one set of limits and checks.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::bulk::describe_duration;
use crate::tasks::TaskSummary;
use crate::ui::TaskBar;
use task_model::file_check::{Include, InvalidGroup};

pub use crate::import_check::{ConnectionEstimate, ImportCheck};

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
    // Which rows the import takes: the ready and the fixed ones unless the seller says.
    let include = RwSignal::new(Include::Fixed);
    let then = RwSignal::new(None::<String>);
    // Where "then publish" publishes: the check's suggestion until the seller picks.
    let via = RwSignal::new(None::<i64>);
    let start_at = RwSignal::new(None::<chrono::DateTime<chrono::Utc>>);
    let blocked = RwSignal::new(false);

    let check = move || {
        include.set(Include::Fixed);
        then.set(None);
        #[cfg(feature = "hydrate")]
        client::check(input, stage, key, via);
    };
    let start = move |_| {
        #[cfg(feature = "hydrate")]
        client::start(
            input,
            stage,
            key,
            include.get_untracked(),
            then.get_untracked(),
            via.get_untracked(),
            start_at.get_untracked(),
        );
    };
    let download = move |_| {
        #[cfg(feature = "hydrate")]
        client::download_left_out(input, include.get_untracked());
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
                        <span class="muted">"or "<span class="link">"choose a file"</span>" · up to 32 MB and 100,000 rows"</span>
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
                    <div aria-live="polite">{move || stage_view(stage.get(), Actions { start, reset, download, include, then, via, start_at, blocked })}</div>
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

/// What the seller can do about a checked file.
#[derive(Clone, Copy)]
struct Actions<S, R, D> {
    start: S,
    reset: R,
    download: D,
    include: RwSignal<Include>,
    /// "Then publish what imported".
    then: RwSignal<Option<String>>,
    /// The connection "then publish" goes through.
    via: RwSignal<Option<i64>>,
    start_at: RwSignal<Option<chrono::DateTime<chrono::Utc>>>,
    /// "At a time…" without a time ahead yet.
    blocked: RwSignal<bool>,
}

fn stage_view<S, R, D>(stage: Stage, actions: Actions<S, R, D>) -> AnyView
where
    S: Fn(leptos::ev::MouseEvent) + Copy + Send + Sync + 'static,
    R: Fn(leptos::ev::MouseEvent) + Copy + Send + Sync + 'static,
    D: Fn(leptos::ev::MouseEvent) + Copy + Send + Sync + 'static,
{
    let reset = actions.reset;
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
        Stage::Ready(check) => confirm(check, false, actions),
        Stage::Starting(check) => confirm(check, true, actions),
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
                    {crate::later::starts_line(&task).map(|line| view! { <p class="task-starts">{line}</p> })}
                    {task.chain.and_then(|chain| chain.next).map(|next| view! {
                        <p class="muted import-next">"Step 2, "<A href=format!("/tasks/{next}")>{format!("#{next}")}</A>", starts when this import ends, with the items it imported."</p>
                    })}
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

/// The confirmation: what the file holds, what the check fixes and what needs the
/// seller, and about how long it takes, before anything starts.
fn confirm<S, R, D>(check: ImportCheck, starting: bool, actions: Actions<S, R, D>) -> AnyView
where
    S: Fn(leptos::ev::MouseEvent) + Copy + Send + Sync + 'static,
    R: Fn(leptos::ev::MouseEvent) + Copy + Send + Sync + 'static,
    D: Fn(leptos::ev::MouseEvent) + Copy + Send + Sync + 'static,
{
    let Actions {
        start,
        reset,
        download,
        include,
        then,
        via,
        start_at,
        blocked,
    } = actions;
    let check = StoredValue::new(check);
    let read = move |f: fn(&ImportCheck) -> u64| check.with_value(f);
    let (ready, fixable, invalid) = (
        read(|c| c.ready),
        read(|c| c.fixable_rows),
        read(|c| c.invalid_rows),
    );
    let taken = move || check.with_value(|c| c.taken(include.get()));
    let left_out = move || read(|c| c.rows) - taken();
    let estimate = move || {
        check.with_value(|c| match include.get() {
            Include::Ready => c.estimate_ready,
            _ => c.estimate,
        })
    };
    let heading = move || match taken() {
        0 => "Nothing in this file can be imported as it is".to_owned(),
        n => format!("Import {}?", rows(n)),
    };
    let fixes = check.with_value(|c| c.fixable.clone());
    let groups = check.with_value(|c| c.invalid.clone());
    view! {
        <div class="card import-confirm" role="group" aria-label="Import this file?">
            <h2>{heading}</h2>
            <p>
                <strong>{check.with_value(|c| c.file_name.clone())}</strong>
                {format!(" · {} checked", rows(read(|c| c.rows)))}
            </p>
            <p class="check-summary" data-ready=ready data-fixable=fixable data-invalid=invalid>
                {task_model::file_check::summary_parts(ready, fixable, invalid)
                    .into_iter()
                    .enumerate()
                    .map(|(at, (tone, part))| view! {
                        {(at > 0).then_some(" · ")}
                        <span class=format!("check-count count-{tone}")>{part}</span>
                    })
                    .collect_view()}
            </p>
            {(!fixes.is_empty()).then(|| view! {
                <div class="check-block check-fixes">
                    <h3>"Fixed automatically"</h3>
                    <ul>
                        {fixes.into_iter().map(|g| view! {
                            <li data-code=g.code.clone()>{g.fix}<span class="muted">{format!(" · {}", rows(g.count))}</span></li>
                        }).collect_view()}
                    </ul>
                </div>
            })}
            {(!groups.is_empty()).then(|| view! {
                <div class="check-block check-invalid">
                    <h3>{format!("{} need{} you", rows(invalid), if invalid == 1 { "s" } else { "" })}</h3>
                    <ul class="check-groups">
                        {groups.into_iter().map(invalid_group).collect_view()}
                    </ul>
                    <p class="muted">"These rows are left out. Download them with the reason in each row, fix them and import that file."</p>
                </div>
            })}
            {(fixable > 0 && ready > 0).then(|| view! {
                <fieldset class="check-choice">
                    <legend>"Which rows to import"</legend>
                    <label>
                        <input type="radio" name="include" checked=move || include.get() == Include::Fixed
                            on:change=move |_| include.set(Include::Fixed) />
                        {format!(" The ready and the fixed rows ({})", ready + fixable)}
                    </label>
                    <label>
                        <input type="radio" name="include" checked=move || include.get() == Include::Ready
                            on:change=move |_| include.set(Include::Ready) />
                        {format!(" Only the ready rows ({ready}): the {} left out too", if fixable == 1 { "fixable one is".to_owned() } else { format!("{fixable} fixable ones are") })}
                    </label>
                </fieldset>
            })}
            <p class="check-estimate">
                {move || estimate().map(|e| format!("{} ({}).", capitalised(&e.about()), e.source()))}
                {move || then.get().and_then(|_| publish_estimate(&check.get_value(), via.get())).map(|e| format!(" Then publishing what imported: {} more.", e.about()))}
            </p>
            <p class="muted">"The import runs in the background: you can keep working, and follow it here or in the task tray."</p>
            <crate::later::ThenChoice first=task_model::kinds::IMPORT.name then_kind=task_model::kinds::PUBLISH.name then />
            {move || then.get().map(|_| view! {
                <crate::connections::WhereTo connections=check.with_value(|c| c.connections.clone()) chosen=via />
            })}
            <crate::later::StartWhen tonight=check.with_value(|c| c.tonight) start_at blocked />
            <div class="form-actions">
                {move || (taken() > 0).then(|| view! {
                    <button type="button" class="button primary" on:click=start disabled=move || starting || blocked.get()>
                        {move || match (starting, start_at.get().is_some()) {
                            (true, _) => "Starting…",
                            (false, true) => "Schedule",
                            (false, false) => "Start in background",
                        }}
                    </button>
                })}
                {move || (left_out() > 0).then(|| view! {
                    <button type="button" class="button secondary" on:click=download>
                        {format!("Download the {} left out", rows(left_out()))}
                    </button>
                })}
                <button type="button" class="button ghost" on:click=reset>"Choose another file"</button>
            </div>
        </div>
    }
    .into_any()
}

/// The publish estimate through the chosen connection (the check's own without a
/// connection); none when that one could not be estimated, rather than another's.
fn publish_estimate(check: &ImportCheck, via: Option<i64>) -> Option<task_model::Estimate> {
    match via {
        Some(id) => check
            .publish_estimates
            .iter()
            .find(|e| e.connection_id == id)
            .map(|e| e.estimate),
        None => check.publish_estimate,
    }
}

/// The confirmation as the design gallery shows it, with buttons that do nothing;
/// `publishing`: with "Then publish what imported" ticked.
pub fn confirm_specimen(check: ImportCheck, publishing: bool) -> AnyView {
    let noop = |_: leptos::ev::MouseEvent| {};
    let via = check.connection_id;
    confirm(
        check,
        false,
        Actions {
            start: noop,
            reset: noop,
            download: noop,
            include: RwSignal::new(Include::Fixed),
            then: RwSignal::new(publishing.then(|| task_model::kinds::PUBLISH.name.to_owned())),
            via: RwSignal::new(via),
            start_at: RwSignal::new(None),
            blocked: RwSignal::new(false),
        },
    )
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// One reason rows need the seller, with its first rows.
fn invalid_group(group: InvalidGroup) -> impl IntoView {
    let more = group.count.saturating_sub(group.examples.len() as u64);
    view! {
        <li class="check-group" data-code=group.code.clone()>
            <p>
                <strong>{group.title}</strong>
                <span class="muted">{format!(" · {}", rows(group.count))}</span>
            </p>
            <ul class="check-examples">
                {group.examples.into_iter().map(|e| view! {
                    <li>
                        <span class="check-line">{format!("Line {}", e.line)}</span>
                        {(!e.sku.is_empty()).then(|| view! { <code>{e.sku}</code> })}
                        <span>{e.message}</span>
                    </li>
                }).collect_view()}
                {(more > 0).then(|| view! { <li class="muted">{format!("+{more} more in the download")}</li> })}
            </ul>
        </li>
    }
}

/// The browser side: reading the chosen or dropped file and talking to the API.
#[cfg(feature = "hydrate")]
mod client {
    use super::*;
    use serde::de::DeserializeOwned;
    use serde::Deserialize;
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
        via: RwSignal<Option<i64>>,
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
                Ok(check) => {
                    via.set(check.connection_id);
                    stage.set(Stage::Ready(check));
                }
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
        include: Include,
        then: Option<String>,
        via: Option<i64>,
        start_at: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        let (Some(file), Stage::Ready(check)) = (chosen(input), stage.get_untracked()) else {
            return;
        };
        stage.set(Stage::Starting(check));
        let key = format!("{}-{}", key.get_value(), include.as_str());
        let mut path = format!("/api/v1/imports?include={}", include.as_str());
        if let Some(then) = then {
            path.push_str(&format!("&then={then}"));
            // Only a step that publishes goes through a connection.
            if let Some(id) = via {
                path.push_str(&format!("&connection_id={id}"));
            }
        }
        if let Some(at) = start_at {
            let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            path.push_str(&format!("&start_at={at}"));
        }
        leptos::task::spawn_local(async move {
            match send::<TaskSummary>("POST", &path, Some(&file), Some(&key)).await {
                Ok(task) => stage.set(Stage::Running(task)),
                Err(refusal) => stage.set(refusal),
            }
        });
    }

    /// Asks the server for the rows the import leaves out and saves them as a file.
    pub fn download_left_out(input: NodeRef<leptos::html::Input>, include: Include) {
        let Some(file) = chosen(input) else {
            return;
        };
        leptos::task::spawn_local(async move {
            let _ = save_left_out(&file, include).await;
        });
    }

    async fn save_left_out(
        file: &web_sys::File,
        include: Include,
    ) -> Result<(), wasm_bindgen::JsValue> {
        let window = web_sys::window().ok_or("no window")?;
        let form = web_sys::FormData::new()?;
        form.append_with_blob_and_filename("file", file, &file.name())?;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&form);
        let path = format!(
            "/api/v1/imports/check/left-out.csv?include={}",
            include.as_str()
        );
        let response: web_sys::Response =
            JsFuture::from(window.fetch_with_str_and_init(&path, &init))
                .await?
                .dyn_into()?;
        if !response.ok() {
            return Err("refused".into());
        }
        let blob: web_sys::Blob = JsFuture::from(response.blob()?).await?.dyn_into()?;
        let url = web_sys::Url::create_object_url_with_blob(&blob)?;
        let document = window.document().ok_or("no document")?;
        let link: web_sys::HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
        link.set_href(&url);
        let stem = file.name();
        let stem = stem.strip_suffix(".csv").unwrap_or(&stem).to_owned();
        link.set_download(&format!("{stem}-left-out.csv"));
        link.click();
        // Released once the browser has had time to start saving it.
        gloo_timers::callback::Timeout::new(30_000, move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        })
        .forget();
        Ok(())
    }
}
