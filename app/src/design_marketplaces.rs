//! The design gallery's specimens of marketplace connections: a connection that works,
//! one whose test failed, one not tested yet, the form that adds one, a publish held
//! while its marketplace does not answer, and a publish's confirmation asking "Where to?".

use leptos::prelude::*;
use task_model::{Connection, ConnectionTest, Marketplace};

use crate::bulk::{plan_title, PlanBody, StartRequest, TaskPlan};
use crate::connections::{AddConnection, ConnectionCard, NewConnectionForm};
use crate::design::{at, store_with, Frame, Specimen};
use crate::error::AppError;
use crate::selection::Selection;
use crate::tasks::TaskSummary;

pub(crate) fn connection(
    id: i64,
    marketplace: Marketplace,
    name: &str,
    account: &str,
) -> Connection {
    Connection {
        id,
        marketplace,
        name: name.into(),
        account: account.into(),
        marketplace_id: marketplace.default_marketplace_id().into(),
        base_url: marketplace
            .production_url()
            .unwrap_or("http://127.0.0.1:3000/sandbox/marketplace")
            .into(),
        credentials_set: marketplace
            .credentials()
            .iter()
            .map(|name| (*name).to_owned())
            .collect(),
        created_at: at(0),
        last_test: None,
    }
}

#[component]
pub fn MarketplaceSpecimens() -> impl IntoView {
    let amazon = Connection {
        last_test: Some(ConnectionTest {
            at: at(14),
            ok: true,
            message: "Connected: signed in with Login with Amazon; selling partner A2EUQ1WTGCTBG2 answers on marketplace ATVPDKIKX0DER.".into(),
        }),
        ..connection(1, Marketplace::Amazon, "Amazon US", "A2EUQ1WTGCTBG2")
    };
    let ebay = Connection {
        last_test: Some(ConnectionTest {
            at: at(18),
            ok: false,
            message: "eBay refused the access for account bright-home-goods (401 Unauthorized). Check the account and that the app is authorised for it.".into(),
        }),
        ..connection(2, Marketplace::Ebay, "eBay US", "bright-home-goods")
    };
    let sandbox = connection(3, Marketplace::Sandbox, "Sandbox marketplace", "seller-1");
    let add: Action<NewConnectionForm, Result<Connection, AppError>> =
        Action::new(|_: &NewConnectionForm| async { Err(AppError::NotFound) });
    let never: Action<StartRequest, Result<TaskSummary, AppError>> =
        Action::new(|_: &StartRequest| async { Err(AppError::NotFound) });
    let always = RwSignal::new(true);
    let plan = TaskPlan {
        kind: "publish".into(),
        count: 200,
        estimate: task_model::Estimate {
            seconds: 12,
            low: 9,
            high: 18,
            basis: task_model::Basis::Limit,
            shared_with: 0,
            items: 200,
            calls: 24,
        },
        breakdown: vec![(crate::catalog::ListingState::Draft, 200)],
        idempotency_key: String::new(),
        tonight: at(0) + chrono::Duration::hours(15),
        then_estimate: None,
        connections: vec![amazon.clone(), ebay.clone(), sandbox.clone()],
        connection_id: Some(2),
    };
    view! {
        <Specimen title="Connections: tested, failed, not tested yet">
            <div class="connection-list">
                <ConnectionCard connection=amazon />
                <ConnectionCard connection=ebay />
                <ConnectionCard connection=sandbox />
            </div>
        </Specimen>
        <Specimen title="Connect a marketplace">
            <AddConnection add />
        </Specimen>
        <Specimen title="Task tray: a publish held while the marketplace does not answer">
            <Frame store=store_with(vec![crate::design::held(9)])><div class="live-dock"><crate::live::TaskTray /></div></Frame>
        </Specimen>
        <Specimen title="Waiting for the marketplace: not answering, nothing lost">
            {
                let current = Memo::new(|_| crate::design::held(9));
                let control = Action::new(|_: &(task_model::Control, crate::task_page::Which)| async {
                    Err::<TaskSummary, AppError>(AppError::NotFound)
                });
                view! { <crate::task_header::TaskHeader current control cancel_open=RwSignal::new(false) /> }
            }
        </Specimen>
        <Specimen title="Publish: where to, with several connections">
            <crate::ui::Dialog open=always id="design-where-to" title=plan_title(&plan.kind, plan.count) inline=true>
                <PlanBody plan=plan.clone() start=never selection=RwSignal::new(Selection::default()) open=always />
            </crate::ui::Dialog>
        </Specimen>
    }
}
