//! The seller's marketplace connections (`/connections`): connect Amazon, eBay or the
//! sandbox with an account and credentials, test a connection, remove one. Credentials go
//! in once and are never shown again: a connection names the credentials it has. The
//! bulk confirmation asks "Where to?" when there is more than one.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use task_model::{Connection, Marketplace};

use crate::error::AppError;

/// What the add form sends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewConnectionForm {
    pub marketplace: String,
    pub name: String,
    pub account: String,
    pub marketplace_id: String,
    pub base_url: String,
    pub credentials: BTreeMap<String, String>,
}

#[server(endpoint = "list_connections")]
pub async fn list_connections() -> Result<Vec<Connection>, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?;
            Ok(backend::connections::list(&state()?.db, seller.id).await?)
        }
        .await,
    )
}

#[server(endpoint = "add_connection", input = Json)]
pub async fn add_connection(form: NewConnectionForm) -> Result<Connection, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?;
            let state = state()?;
            let blank = |text: String| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
            let new = backend::connections::NewConnection {
                marketplace: form.marketplace,
                name: form.name,
                account: form.account,
                marketplace_id: blank(form.marketplace_id),
                credentials: form
                    .credentials
                    .into_iter()
                    .filter(|(_, value)| !value.trim().is_empty())
                    .collect(),
                base_url: blank(form.base_url),
            };
            let created = backend::connections::create(
                &state.db,
                state.marketplaces.key(),
                seller.id,
                &new,
                state.marketplaces.sandbox_url(),
                chrono::Utc::now(),
            )
            .await?;
            Ok(created)
        }
        .await,
    )
}

#[server(endpoint = "test_connection")]
pub async fn test_connection(id: i64) -> Result<Connection, AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?;
            let state = state()?;
            Ok(state.marketplaces.test(&state.db, seller.id, id).await?)
        }
        .await,
    )
}

#[server(endpoint = "remove_connection")]
pub async fn remove_connection(id: i64) -> Result<(), AppError> {
    use crate::auth::ssr::{require_seller, state, with_status};
    with_status(
        async {
            let seller = require_seller()?;
            Ok(backend::connections::delete(&state()?.db, seller.id, id).await?)
        }
        .await,
    )
}

/// "Amazon · A2EUQ1WTGCTBG2 · ATVPDKIKX0DER"
pub fn describe(connection: &Connection) -> String {
    format!(
        "{} · {} · {}",
        connection.marketplace.label(),
        connection.account,
        connection.marketplace_id
    )
}

/// One connection: what it reaches, which credentials it keeps (never their values), its
/// last test, and its actions.
#[component]
pub fn ConnectionCard(
    connection: Connection,
    #[prop(optional)] test: Option<Action<i64, Result<Connection, AppError>>>,
    #[prop(optional)] remove: Option<Action<i64, Result<(), AppError>>>,
) -> impl IntoView {
    let id = connection.id;
    let marketplace = connection.marketplace;
    let credentials = if connection.credentials_set.is_empty() {
        "No credentials needed".to_owned()
    } else {
        let names: Vec<&str> = connection
            .credentials_set
            .iter()
            .map(|name| marketplace.credential_label(name))
            .collect();
        format!("{} — stored encrypted", names.join(", "))
    };
    let last_test = connection.last_test.clone();
    let testing = move || test.is_some_and(|t| t.pending().get());
    view! {
        <article class="card connection" data-connection=connection.name.clone() data-marketplace=marketplace.as_str()>
            <header class="connection-head">
                <h3>{connection.name.clone()}</h3>
                <span class="chip">{marketplace.label()}</span>
            </header>
            <dl class="connection-facts">
                <dt>{marketplace.account_label()}</dt><dd>{connection.account.clone()}</dd>
                <dt>"Marketplace"</dt><dd>{connection.marketplace_id.clone()}</dd>
                <dt>"Address"</dt><dd class="connection-url">{connection.base_url.clone()}</dd>
                <dt>"Credentials"</dt><dd>{credentials}</dd>
            </dl>
            {match last_test {
                Some(found) => view! {
                    <p class=if found.ok { "alert success connection-test" } else { "alert error connection-test" } role="status">
                        <strong>{if found.ok { "Works. " } else { "Did not work. " }}</strong>
                        {found.message}
                        " "<span class="muted"><crate::when::When at=found.at /></span>
                    </p>
                }.into_any(),
                None => view! { <p class="muted connection-test">"Not tested yet."</p> }.into_any(),
            }}
            <div class="form-actions">
                <button class="button" type="button" disabled=testing
                    on:click=move |_| { if let Some(test) = test { test.dispatch(id); } }>
                    {move || if testing() { "Testing…" } else { "Test connection" }}
                </button>
                <button class="button ghost danger-text" type="button"
                    on:click=move |_| { if let Some(remove) = remove { remove.dispatch(id); } }>"Remove"</button>
            </div>
        </article>
    }
}

#[component]
pub fn ConnectionsPage() -> impl IntoView {
    let changed = RwSignal::new(0u32);
    let connections = Resource::new(move || changed.get(), |_| list_connections());
    let test = Action::new(|id: &i64| test_connection(*id));
    let remove = Action::new(|id: &i64| remove_connection(*id));
    let add = Action::new(|form: &NewConnectionForm| add_connection(form.clone()));
    Effect::new(move |_| {
        let done = [
            test.value().get().map(|r| r.is_ok()),
            remove.value().get().map(|r| r.is_ok()),
            add.value().get().map(|r| r.is_ok()),
        ];
        if done.contains(&Some(true)) {
            changed.update(|n| *n += 1);
        }
    });
    let problem = move || {
        remove
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| test.value().get().and_then(|r| r.err()))
    };
    view! {
        <section class="page connections-page">
            <header class="page-header connections-header">
                <h1>"Marketplaces"</h1>
                <p class="muted">"Where Stockroom publishes. Credentials are stored encrypted and never shown again; “Test connection” signs in and reads the account."</p>
            </header>
            {move || problem().map(|err| view! { <p class="alert error" role="alert">{err.to_string()}</p> })}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || connections.get().map(|found| match found {
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"No marketplace connected yet: tasks publish to the built-in sandbox marketplace."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <div class="connection-list">
                            {list.into_iter().map(|connection| view! { <ConnectionCard connection test remove /> }).collect_view()}
                        </div>
                    }.into_any(),
                    Err(err) => view! { <p class="alert error" role="alert">{err.to_string()}</p> }.into_any(),
                })}
            </Transition>
            <AddConnection add />
        </section>
    }
}

/// The add form: the marketplace decides the fields (its account's name, its credentials).
#[component]
pub fn AddConnection(
    add: Action<NewConnectionForm, Result<Connection, AppError>>,
) -> impl IntoView {
    let form = RwSignal::new(NewConnectionForm {
        marketplace: Marketplace::Amazon.as_str().to_owned(),
        ..Default::default()
    });
    // Only a change of marketplace redraws the fields (typing in them must not).
    let marketplace = Memo::new(move |_| {
        Marketplace::try_from(form.with(|f| f.marketplace.clone()).as_str())
            .unwrap_or(Marketplace::Amazon)
    });
    let marketplace = move || marketplace.get();
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            form.set(NewConnectionForm {
                marketplace: form.with_untracked(|f| f.marketplace.clone()),
                ..Default::default()
            });
        }
    });
    let errors = move || match add.value().get() {
        Some(Err(AppError::Validation { fields })) => fields
            .into_iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>(),
        Some(Err(err)) => vec![err.to_string()],
        _ => Vec::new(),
    };
    let text = move |label: String,
                     value: fn(&NewConnectionForm) -> String,
                     set: fn(&mut NewConnectionForm, String),
                     hint: String| {
        view! {
            <label class="field">
                <span class="field-label">{label}</span>
                <input class="input" type="text" autocomplete="off" placeholder=hint
                    prop:value=move || form.with(value)
                    on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| set(f, v)); } />
            </label>
        }
    };
    view! {
        <section class="card add-connection" aria-labelledby="add-connection-title">
            <h2 id="add-connection-title">"Connect a marketplace"</h2>
            <form class="stack" on:submit=move |ev| { ev.prevent_default(); add.dispatch(form.get_untracked()); }>
                <label class="field">
                    <span class="field-label">"Marketplace"</span>
                    <select class="input" name="marketplace"
                        on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| { f.marketplace = v; f.credentials.clear(); }); }>
                        {Marketplace::ALL.into_iter().map(|m| view! {
                            <option value=m.as_str() selected=move || marketplace() == m>{m.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
                {text("Name".into(), |f| f.name.clone(), |f, v| f.name = v, "Amazon US".into())}
                {move || text(marketplace().account_label().into(), |f| f.account.clone(), |f, v| f.account = v, String::new())}
                {move || text("Marketplace ID".into(), |f| f.marketplace_id.clone(), |f, v| f.marketplace_id = v, marketplace().default_marketplace_id().into())}
                {move || marketplace().credentials().iter().map(|name| {
                    let name = *name;
                    view! {
                        <label class="field">
                            <span class="field-label">{marketplace().credential_label(name)}</span>
                            <input class="input" type="password" autocomplete="off" data-credential=name
                                prop:value=move || form.with(|f| f.credentials.get(name).cloned().unwrap_or_default())
                                on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| { f.credentials.insert(name.to_owned(), v); }); } />
                        </label>
                    }
                }).collect_view()}
                {move || text("API address (optional)".into(), |f| f.base_url.clone(), |f, v| f.base_url = v,
                    marketplace().production_url().unwrap_or("This server's sandbox").into())}
                {move || (!errors().is_empty()).then(|| view! {
                    <ul class="form-error" role="alert">{errors().into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}</ul>
                })}
                <div class="form-actions">
                    <button class="button primary" type="submit" disabled=move || add.pending().get()>
                        {move || if add.pending().get() { "Connecting…" } else { "Connect" }}
                    </button>
                </div>
            </form>
        </section>
    }
}

/// A connection as a choice reads: its name, and the marketplace where the name does not
/// already say it ("Main shop (eBay)", but "eBay US", "Sandbox marketplace").
pub fn choice_label(connection: &Connection) -> String {
    let marketplace = connection.marketplace.label();
    if connection
        .name
        .to_lowercase()
        .contains(&marketplace.to_lowercase())
    {
        connection.name.clone()
    } else {
        format!("{} ({marketplace})", connection.name)
    }
}

/// "Where to?": the seller's connections, for a task that publishes (shown with more
/// than one).
#[component]
pub fn WhereTo(connections: Vec<Connection>, chosen: RwSignal<Option<i64>>) -> impl IntoView {
    (connections.len() > 1).then(|| {
        view! {
            <label class="field where-to">
                <span class="field-label">"Where to?"</span>
                <select class="input" name="connection"
                    on:change=move |ev| chosen.set(event_target_value(&ev).parse().ok())>
                    {connections.into_iter().map(|c| {
                        let id = c.id;
                        view! {
                            <option value=id.to_string() selected=move || chosen.get() == Some(id)>
                                {choice_label(&c)}
                            </option>
                        }
                    }).collect_view()}
                </select>
            </label>
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use task_model::Marketplace;

    fn named(name: &str, marketplace: Marketplace) -> Connection {
        Connection {
            id: 1,
            marketplace,
            name: name.into(),
            account: "seller-1".into(),
            marketplace_id: String::new(),
            base_url: String::new(),
            credentials_set: Vec::new(),
            created_at: chrono::DateTime::UNIX_EPOCH,
            last_test: None,
        }
    }

    #[test]
    fn a_choice_names_the_marketplace_only_where_the_name_does_not() {
        assert_eq!(
            choice_label(&named("eBay US", Marketplace::Ebay)),
            "eBay US"
        );
        assert_eq!(
            choice_label(&named("Amazon (sandbox)", Marketplace::Amazon)),
            "Amazon (sandbox)"
        );
        assert_eq!(
            choice_label(&named("Sandbox marketplace", Marketplace::Sandbox)),
            "Sandbox marketplace"
        );
        assert_eq!(
            choice_label(&named("Main shop", Marketplace::Ebay)),
            "Main shop (eBay)"
        );
    }
}
