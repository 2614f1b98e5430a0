//! Creating a task: the task and all its items in one transaction, idempotent per seller
//! and key.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    Set, TransactionTrait,
};
use serde_json::Value;
use task_model::chain::through_connection;

use super::{Task, TaskError, TaskStatus};
use crate::entities::{task, task_item};
use crate::estimate::Estimate;

#[derive(Debug, Clone)]
pub struct NewTask {
    pub seller_id: i64,
    pub kind: String,
    pub params: Value,
    /// Same seller + same key → the same task, not a second one.
    pub idempotency_key: Option<String>,
}

/// When a task starts and what follows it; by default, now and nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Later {
    /// Start at this time rather than now. A time already past starts it at once.
    pub start_at: Option<DateTime<Utc>>,
    /// The kind of a second step that starts when this task ends, over the catalog
    /// items this one succeeded on (see `task_model::chain::followers`).
    pub then: Option<String>,
}

/// Whether `create` made a task or found the one made earlier with the same key.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    New(Task),
    Existing(Task),
}

impl Created {
    pub fn task(&self) -> &Task {
        match self {
            Self::New(task) | Self::Existing(task) => task,
        }
    }
}

const BATCH: usize = 1_000;

/// How long a task of `new` would take if started now, without starting it.
pub async fn estimate<C: ConnectionTrait>(
    db: &C,
    registry: &super::Registry,
    new: &NewTask,
    subjects: Option<Vec<Value>>,
) -> Result<Estimate, TaskError> {
    let kind = registry
        .get(&new.kind)
        .ok_or_else(|| TaskError::UnknownKind(new.kind.clone()))?;
    // Through the connection the task would go through: it decides the calls.
    let (new, _) = with_connection(db, new.clone(), kind.name(), None).await?;
    let params = kind.parse_params(&new.params)?;
    let subjects = match subjects {
        Some(subjects) => subjects,
        None => kind.expand(&params)?,
    };
    estimate_for(db, registry, &*kind, new.seller_id, &params, &subjects).await
}

/// The kind's estimate, sharing the marketplace's pace with what the seller's unfinished
/// tasks still have to send.
async fn estimate_for<C: ConnectionTrait>(
    db: &C,
    registry: &super::Registry,
    kind: &dyn super::AnyKind,
    seller_id: i64,
    params: &Value,
    subjects: &[Value],
) -> Result<Estimate, TaskError> {
    let sharing = match kind.call_model(seller_id) {
        Some(_) => sharing(db, registry, seller_id, None).await?,
        None => Vec::new(),
    };
    Ok(kind.estimate(seller_id, params, subjects, &sharing)?)
}

/// The marketplace calls each of the seller's queued and running tasks (but `except`)
/// still has to make: its items left, at its estimate's calls per item (an import
/// without image checks makes none).
pub(crate) async fn sharing<C: ConnectionTrait>(
    db: &C,
    registry: &super::Registry,
    seller_id: i64,
    except: Option<i64>,
) -> Result<Vec<u64>, TaskError> {
    let unfinished = task::Entity::find()
        .filter(task::Column::SellerId.eq(seller_id))
        .filter(
            task::Column::Status.is_in([TaskStatus::Queued.as_str(), TaskStatus::Running.as_str()]),
        )
        .all(db)
        .await?;
    Ok(unfinished
        .into_iter()
        .filter(|other| Some(other.id) != except)
        .filter_map(|other| {
            let left =
                u64::try_from(other.pending + other.waiting + other.running).unwrap_or(0) as f64;
            let stored = other
                .estimate
                .as_deref()
                .and_then(|raw| serde_json::from_str::<Estimate>(raw).ok());
            let per_item = match stored {
                Some(estimate) => estimate.calls_per_item(),
                // Older tasks: one call per item if the kind makes calls at all.
                None => match registry.get(&other.kind)?.call_model(seller_id) {
                    Some(_) => 1.0,
                    None => 0.0,
                },
            };
            let calls = (left * per_item).round() as u64;
            (calls > 0).then_some(calls)
        })
        .collect())
}

/// How long sending `items` of `task` again would take: at the task's own calls per
/// item, sharing the pace with the seller's other tasks.
pub async fn estimate_again<C: ConnectionTrait>(
    db: &C,
    registry: &super::Registry,
    task: &Task,
    items: u64,
) -> Result<Estimate, TaskError> {
    let kind = registry
        .get(&task.kind)
        .ok_or_else(|| TaskError::UnknownKind(task.kind.clone()))?;
    let model = kind.call_model(task.seller_id);
    let per_item = match (&task.estimate, &model) {
        (Some(estimate), _) => estimate.calls_per_item(),
        (None, Some(_)) => 1.0,
        (None, None) => 0.0,
    };
    let work = crate::estimate::Workload {
        calls: (items as f64 * per_item).round() as u64,
        items,
    };
    let sharing = match model {
        Some(_) => sharing(db, registry, task.seller_id, Some(task.id)).await?,
        None => Vec::new(),
    };
    Ok(crate::estimate::predict(work, &sharing, model.as_ref()))
}

/// A retry sent items of `task` again: the rest of the task is a new run, with its own
/// estimate from now, so its time left and the time it took are about that run.
pub async fn re_estimate<C: ConnectionTrait>(
    db: &C,
    registry: &super::Registry,
    task: &Task,
    now: DateTime<Utc>,
) -> Result<(), TaskError> {
    let left = u64::try_from(task.counts.left()).unwrap_or(0);
    if left == 0 {
        return Ok(());
    }
    let estimate = estimate_again(db, registry, task, left).await?;
    db.execute_raw(super::stmt(
        db.get_database_backend(),
        "UPDATE tasks SET estimate = $1, estimated_at = $2, version = version + 1, updated_at = $2 \
         WHERE id = $3",
        vec![
            serde_json::to_string(&estimate).ok().into(),
            now.into(),
            task.id.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Creates the task and its items atomically. Pass a transaction to make the task part
/// of a larger unit of work (it then becomes a savepoint).
pub async fn create<C>(
    db: &C,
    registry: &super::Registry,
    new: NewTask,
    now: DateTime<Utc>,
) -> Result<Created, TaskError>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    create_from(db, registry, new, None, now).await
}

/// Like [`create`], with the items' subjects given by the caller (an uploaded file,
/// already read) instead of expanded from the parameters by the kind.
pub async fn create_from<C>(
    db: &C,
    registry: &super::Registry,
    new: NewTask,
    subjects: Option<Vec<Value>>,
    now: DateTime<Utc>,
) -> Result<Created, TaskError>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    create_flow(db, registry, new, subjects, Later::default(), now).await
}

/// Settles the connection of a publish or unpublish (or of a chain's publish step): the
/// one named in the parameters (`connection_id`, the seller's own), else the seller's
/// only connection, else none — the built-in marketplace. With several and none named,
/// the seller must say which. Returns the task with its parameters naming it (kinds
/// through a connection only) and the connection of the step after.
async fn with_connection(
    db: &impl ConnectionTrait,
    mut new: NewTask,
    kind: &str,
    then: Option<&str>,
) -> Result<(NewTask, Option<(i64, task_model::Marketplace)>), TaskError> {
    let invalid = |message: String| {
        TaskError::InvalidParams(super::InvalidParams {
            code: "invalid",
            field: "connection_id".into(),
            message,
        })
    };
    let requested = match new.params.get("connection_id") {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_i64().ok_or_else(|| {
            invalid("connection_id is the number of one of your connections.".into())
        })?),
    };
    let wanted = through_connection(kind) || then.is_some_and(through_connection);
    if !wanted {
        return match requested {
            None => Ok((new, None)),
            Some(_) => Err(invalid(
                "Only publish and unpublish go through a marketplace connection.".into(),
            )),
        };
    }
    let connections = crate::connections::list(db, new.seller_id)
        .await
        .map_err(|err| TaskError::Unexpected(err.into()))?;
    let chosen = match requested {
        Some(id) => Some(
            connections
                .iter()
                .find(|c| c.id == id)
                .ok_or_else(|| invalid(format!("You have no connection {id}.")))?,
        ),
        None => match connections.as_slice() {
            [] => None,
            [only] => Some(only),
            several => {
                let names: Vec<String> = several
                    .iter()
                    .map(|c| format!("{} ({})", c.name, c.id))
                    .collect();
                return Err(TaskError::InvalidParams(super::InvalidParams {
                    code: "connection_required",
                    field: "connection_id".into(),
                    message: format!("Choose where to publish: {}.", names.join(", ")),
                }));
            }
        },
    };
    let chosen = chosen.map(|c| (c.id, c.marketplace));
    if let Some(params) = new.params.as_object_mut() {
        // The marketplace is the connection's, whatever the request said: it decides
        // how the items are sent (one a call, or in batches).
        params.remove("marketplace");
        match chosen.filter(|_| through_connection(kind)) {
            Some((id, marketplace)) => {
                params.insert("connection_id".into(), Value::from(id));
                params.insert("marketplace".into(), Value::from(marketplace.as_str()));
            }
            None => {
                params.remove("connection_id");
            }
        }
    }
    Ok((new, chosen.filter(|_| then.is_some_and(through_connection))))
}

/// Like [`create_from`], starting at `later.start_at` (status `scheduled` until then)
/// and followed by `later.then` as step 2 of a chain: that step is made now, scheduled,
/// with no items; it gets them when this one ends.
pub async fn create_flow<C>(
    db: &C,
    registry: &super::Registry,
    new: NewTask,
    subjects: Option<Vec<Value>>,
    later: Later,
    now: DateTime<Utc>,
) -> Result<Created, TaskError>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let items = match subjects {
        Some(subjects) => Items::Given(subjects),
        None => Items::FromParams,
    };
    create_inner(db, registry, new, items, later, now).await
}

/// Like [`create_flow`] for a kind over catalog items, over every item of the seller's
/// that `selection` matches now: the task is made with their count, and the engine adds
/// the items in chunks (`expand`). Its parameters name no items (`item_ids: []`).
pub async fn create_matching<C>(
    db: &C,
    registry: &super::Registry,
    new: NewTask,
    selection: super::expand::Selection,
    later: Later,
    now: DateTime<Utc>,
) -> Result<Created, TaskError>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    create_inner(db, registry, new, Items::Matching(selection), later, now).await
}

/// Where a new task's items come from.
enum Items {
    /// The kind expands its parameters.
    FromParams,
    /// The caller read them (an uploaded file).
    Given(Vec<Value>),
    /// The seller's catalog items a filter matches, added later by the engine.
    Matching(super::expand::Selection),
}

#[tracing::instrument(skip_all, err, fields(seller_id = new.seller_id, kind = %new.kind))]
async fn create_inner<C>(
    db: &C,
    registry: &super::Registry,
    new: NewTask,
    items: Items,
    later: Later,
    now: DateTime<Utc>,
) -> Result<Created, TaskError>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let kind = registry
        .get(&new.kind)
        .ok_or_else(|| TaskError::UnknownKind(new.kind.clone()))?;
    if let Some(existing) = find_by_key(db, new.seller_id, new.idempotency_key.as_deref()).await? {
        return Ok(Created::Existing(existing));
    }
    let then = match later.then.as_deref() {
        None => None,
        Some(then) if task_model::chain::may_follow(kind.name(), then) => Some(
            registry
                .get(then)
                .ok_or_else(|| TaskError::UnknownKind(then.to_owned()))?,
        ),
        Some(then) => {
            let may: Vec<&str> = task_model::chain::followers(kind.name())
                .iter()
                .map(|k| k.name)
                .collect();
            return Err(TaskError::InvalidParams(super::InvalidParams {
                code: "invalid",
                field: "then".into(),
                message: if may.is_empty() {
                    format!("Nothing can follow a task of kind {}.", kind.name())
                } else {
                    format!(
                        "“{then}” cannot follow {}: it may be followed by {}.",
                        kind.name(),
                        may.join(" or ")
                    )
                },
            }));
        }
    };
    // Where a publish (or a chain's publish step) goes, decided once for every caller.
    let (new, then_connection) =
        with_connection(db, new, kind.name(), then.as_ref().map(|t| t.name())).await?;
    // A time already past starts the task at once.
    let start_at = later.start_at.filter(|at| *at > now);
    let params = kind.parse_params(&new.params)?;
    // A selection is counted now, and its items added by the engine: the estimate is
    // made for that many (catalog kinds' estimates look at the number only).
    let (subjects, selection) = match items {
        Items::Given(subjects) => (subjects, None),
        Items::FromParams => (kind.expand(&params)?, None),
        Items::Matching(selection) => {
            // The kind reads its parameters as for any task (an edit checks its change).
            kind.expand(&params)?;
            if kind.presentation().subject != task_model::Subject::CatalogItem {
                return Err(TaskError::InvalidParams(super::InvalidParams {
                    code: "invalid",
                    field: "filter".into(),
                    message: format!("A task of kind {} is not made from a filter.", kind.name()),
                }));
            }
            let (count, upto) =
                crate::catalog::count_matching(db, new.seller_id, &selection.matching())
                    .await
                    .map_err(|err| TaskError::Unexpected(err.into()))?;
            let guess = vec![Value::from(0); usize::try_from(count).unwrap_or(0)];
            (guess, Some((selection, upto, count)))
        }
    };
    if subjects.is_empty() {
        return Err(TaskError::Empty);
    }
    let estimate = estimate_for(db, registry, &*kind, new.seller_id, &params, &subjects).await?;
    let txn = super::write_txn(db).await?;
    let total = subjects.len() as i64;
    let inserted = task::ActiveModel {
        status: Set(match start_at {
            Some(_) => TaskStatus::Scheduled,
            None => TaskStatus::Queued,
        }
        .as_str()
        .to_owned()),
        idempotency_key: Set(new.idempotency_key.clone()),
        estimated_at: Set(Some(now)),
        start_at: Set(start_at),
        chain_step: Set(then.is_some().then_some(1)),
        chain_of: Set(then.is_some().then_some(2)),
        ..fresh_row(
            new.seller_id,
            &*kind,
            &params,
            subjects.len(),
            &estimate,
            now,
        )?
    }
    .insert(&txn)
    .await;
    let row = match inserted {
        Ok(row) => row,
        Err(err)
            if matches!(
                err.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            // Another request with the same key won the race; answer with its task.
            txn.rollback().await?;
            return find_by_key(db, new.seller_id, new.idempotency_key.as_deref())
                .await?
                .map(Created::Existing)
                .ok_or(TaskError::Unexpected(anyhow::anyhow!(
                    "idempotency key collided but no task found"
                )));
        }
        Err(err) => return Err(err.into()),
    };
    // A kind over catalog items names the item, so the catalog can find it in its task.
    let over_catalog = kind.presentation().subject == task_model::Subject::CatalogItem;
    let subjects = match &selection {
        Some((selection, upto, count)) => {
            super::expand::enroll(&txn, row.id, row.seller_id, selection, *upto, *count, now)
                .await?;
            Vec::new()
        }
        None => subjects,
    };
    let mut rows = Vec::with_capacity(subjects.len().min(BATCH));
    for (position, subject) in subjects.into_iter().enumerate() {
        rows.push(pending_item(
            &row,
            position,
            over_catalog
                .then(|| subject.as_i64().or_else(|| subject["item_id"].as_i64()))
                .flatten(),
            subject.to_string(),
            now,
        ));
        if rows.len() == BATCH {
            task_item::Entity::insert_many(std::mem::take(&mut rows))
                .exec_without_returning(&txn)
                .await?;
        }
    }
    if !rows.is_empty() {
        task_item::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    // Made while its marketplace does not answer: held from the start. (After the items:
    // the account's breaker row is locked only for the rest of this transaction.)
    let mut row = row;
    row.hold = super::breaker::enroll(&txn, &*kind, &row, now).await?;
    if row.hold.is_some() {
        row.version += 1;
    }
    let row = match then {
        Some(then) => {
            let next = super::chain::add_step(
                &txn,
                registry,
                &*then,
                &row,
                subjects_count(total),
                then_connection,
                now,
            )
            .await?;
            tracing::info!(task_id = row.id, next_task_id = next, "chain created");
            task::Entity::find_by_id(row.id)
                .one(&txn)
                .await?
                .ok_or(TaskError::NotFound)?
        }
        None => row,
    };
    if start_at.is_none() {
        note_started(&txn, &row, Some(&estimate), now).await?;
    }
    txn.commit().await?;
    tracing::info!(task_id = row.id, items = total, scheduled = ?start_at, "task created");
    Ok(Created::New(super::read(row)?))
}

/// A pending item of `task` at `position`, due now.
pub(crate) fn pending_item(
    task: &task::Model,
    position: usize,
    catalog_item_id: Option<i64>,
    subject: String,
    now: DateTime<Utc>,
) -> task_item::ActiveModel {
    task_item::ActiveModel {
        task_id: Set(task.id),
        seller_id: Set(task.seller_id),
        position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
        catalog_item_id: Set(catalog_item_id),
        subject: Set(subject),
        status: Set(super::ItemStatus::Pending.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        error_code: Set(None),
        error_message: Set(None),
        error_details: Set(None),
        result: Set(None),
        started_at: Set(None),
        finished_at: Set(None),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// A task row of `kind` with `items` items, all pending and nothing started: what every
/// way of making a task shares. The caller sets what is its own (status, key, start,
/// place in a chain).
pub(crate) fn fresh_row(
    seller_id: i64,
    kind: &dyn super::AnyKind,
    params: &Value,
    items: usize,
    estimate: &Estimate,
    now: DateTime<Utc>,
) -> Result<task::ActiveModel, TaskError> {
    let total = items as i64;
    Ok(task::ActiveModel {
        seller_id: Set(seller_id),
        kind: Set(kind.name().to_owned()),
        label: Set(kind.label(params, items)?.chars().take(200).collect()),
        status: Set(TaskStatus::Queued.as_str().to_owned()),
        params: Set(kind.kept(params)?.to_string()),
        idempotency_key: Set(None),
        max_attempts: Set(kind.retry_policy().max_attempts.max(1) as i32),
        total: Set(total),
        pending: Set(total),
        waiting: Set(0),
        running: Set(0),
        succeeded: Set(0),
        failed: Set(0),
        skipped: Set(0),
        cancelled: Set(0),
        throughput: Set(None),
        waiting_until: Set(None),
        created_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
        updated_at: Set(now),
        version: Set(0),
        estimate: Set(serde_json::to_string(estimate).ok()),
        estimated_at: Set(None),
        endpoint: Set(kind
            .endpoint(seller_id, params)
            .map(|endpoint| endpoint.key)),
        hold: Set(None),
        ..Default::default()
    })
}

fn subjects_count(total: i64) -> usize {
    usize::try_from(total).unwrap_or(0)
}

/// The "started" toast's words, kept in the notification centre too; already read, so
/// only endings count as unread.
pub(crate) async fn note_started(
    txn: &DatabaseTransaction,
    row: &task::Model,
    estimate: Option<&Estimate>,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    let (title, body) =
        task_model::words::started(&task_model::words::numbered(row.id, &row.label), estimate);
    let started = crate::notifications::insert(
        txn,
        row.seller_id,
        Some(row.id),
        crate::notifications::Level::Info,
        &title,
        &body,
        now,
    )
    .await?;
    crate::notifications::mark_read(txn, row.seller_id, Some(&[started.id]), now).await?;
    Ok(())
}

async fn find_by_key(
    db: &impl ConnectionTrait,
    seller_id: i64,
    key: Option<&str>,
) -> Result<Option<Task>, TaskError> {
    let Some(key) = key else { return Ok(None) };
    task::Entity::find()
        .filter(task::Column::SellerId.eq(seller_id))
        .filter(task::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?
        .map(super::read)
        .transpose()
}
