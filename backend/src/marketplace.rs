//! The marketplace connector: an HTTP client for the listings API (real or sandbox), with
//! timeouts, idempotency keys, a per-account rate limit, and error classification —
//! transient (timeouts, connection errors, 429, 5xx) or permanent (validation issues,
//! with the marketplace's stable codes).

use chrono::Duration;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::call_stats::{Answer, CallStats, Sample};
use crate::estimate::CallModel;
use crate::pacing::{Pacer, Turn};

/// The contract's money: a decimal string and an ISO currency.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Money {
    pub amount: String,
    pub currency: String,
}

/// The body of `PUT /listings/{account}/{sku}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ListingRequest {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub price: Money,
    #[serde(default)]
    pub quantity: i64,
    pub image_url: Option<String>,
    pub category: Option<String>,
}

/// One problem the marketplace found with a listing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Issue {
    pub code: String,
    pub severity: String,
    pub message: String,
    pub attribute_names: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ListingReply {
    status: String,
    listing_id: Option<String>,
    #[serde(default)]
    issues: Vec<Issue>,
}

/// Why a call did not do what was asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// Worth trying again, after `retry_after` if the marketplace said.
    #[error("{code}: {message}")]
    Transient {
        code: &'static str,
        message: String,
        retry_after: Option<Duration>,
    },
    /// Trying again will not help: the data must change.
    #[error("{code}: {message}")]
    Permanent {
        code: String,
        message: String,
        issues: Vec<Issue>,
    },
}

#[derive(Debug, Deserialize)]
struct MediaReply {
    ok: bool,
    issue: Option<Issue>,
}

pub struct Connector {
    http: reqwest::Client,
    base_url: String,
    pacer: Arc<Pacer>,
    retry: crate::tasks::RetryPolicy,
    stats: CallStats,
}

impl Connector {
    /// `base_url` ends before `/listings` (e.g. `http://127.0.0.1:3000/sandbox/marketplace`);
    /// `pacer` is our own pace per seller account, kept under the marketplace's limit.
    pub fn new(
        base_url: &str,
        pacer: Arc<Pacer>,
        timeout: std::time::Duration,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(timeout)
            .user_agent(concat!("stockroom/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            pacer,
            retry: Self::default_retry(),
            stats: CallStats::new(),
        })
    }

    /// Six attempts, 2 s doubling to 2 min, ±30 %: a marketplace hiccup of a few
    /// minutes is ridden out before an item is reported failed.
    pub fn default_retry() -> crate::tasks::RetryPolicy {
        crate::tasks::RetryPolicy {
            max_attempts: 6,
            base_delay: chrono::Duration::seconds(2),
            max_delay: chrono::Duration::minutes(2),
            jitter_ratio: 0.3,
        }
    }

    /// How calls that failed for a passing reason are retried.
    pub fn with_retry(mut self, retry: crate::tasks::RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn retry_policy(&self) -> crate::tasks::RetryPolicy {
        self.retry
    }

    /// How this account's recent calls went.
    pub fn stats(&self) -> &CallStats {
        &self.stats
    }

    /// What an estimate of this account's calls rests on: our pace, how many calls go
    /// at once and how recent calls went.
    pub fn call_model(&self, account: &str) -> CallModel {
        CallModel {
            per_second: f64::from(self.pacer.pace().per_second.max(1)),
            concurrency: self.useful_concurrency(),
            observed: self.stats.observed(account),
        }
    }

    /// How many calls per account are worth having in flight: enough to keep the pace
    /// while each call takes up to ~600 ms and one or two stragglers wait for their
    /// hedge, few enough that nobody queues for long.
    pub fn useful_concurrency(&self) -> u32 {
        let pace = self.pacer.pace();
        (pace.per_second.saturating_mul(3) / 5 + pace.burst.min(8)).clamp(6, 64)
    }

    /// Waits for this account's turn (our pacing, so the marketplace rarely says 429).
    /// When the account is held off for long (after a 429), says so instead of waiting,
    /// so the item can step aside and the task can show until when it waits.
    async fn pace(&self, account: &str) -> Result<(), CallError> {
        match self.pacer.turn(account).await {
            Ok(Turn::After(wait)) => {
                tokio::time::sleep(wait).await;
                Ok(())
            }
            Ok(Turn::HeldOff(wait)) => Err(CallError::Transient {
                code: "rate_limited",
                message: "Waiting for marketplace quota.".into(),
                retry_after: Duration::from_std(wait).ok(),
            }),
            Err(err) => Err(CallError::Transient {
                code: "pace_unavailable",
                message: format!("The marketplace pace could not be read: {err}"),
                retry_after: None,
            }),
        }
    }

    /// Sends a request, keeping the marketplace's pace even when calls hang or fail:
    /// a call slower than nearly all recent ones is hedged, and a passing failure is
    /// tried again at once (in the next turn of the pace) while the marketplace is
    /// otherwise healthy, instead of waiting out a backoff.
    async fn send(
        &self,
        account: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, CallError> {
        let request = request.build().map_err(transport)?;
        let mut quick_retries = QUICK_RETRIES;
        loop {
            match self.hedged(account, &request).await {
                Err(CallError::Transient { code, .. })
                    if quick_retries > 0 && worth_retrying_now(code) && self.healthy(account) =>
                {
                    quick_retries -= 1;
                    crate::telemetry::quick_retry(account);
                }
                other => return other,
            }
        }
    }

    /// Whether the marketplace answers well enough that a failure is a passing one.
    fn healthy(&self, account: &str) -> bool {
        self.stats
            .observed(account)
            .is_none_or(|observed| observed.failure_rate < HEALTHY_FAILURE_RATE)
    }

    /// One try, and — for a request that is safe to repeat (a read, or one carrying an
    /// idempotency key, which the marketplace answers once) — another alongside each
    /// time every try so far is still unanswered after [`CallStats::hedge_after`], up to
    /// [`MAX_TRIES`] at once, while hedges are a small share of recent calls (else it
    /// waits for room or for an answer). A hedge can hang as well as the call it backs
    /// up, so one backup is not always enough. The first useful answer wins and the
    /// other tries are dropped. Each hedge takes its own turn of the pace, so the rate
    /// holds.
    async fn hedged(
        &self,
        account: &str,
        request: &reqwest::Request,
    ) -> Result<reqwest::Response, CallError> {
        use futures::StreamExt;
        self.pace(account).await?;
        if !repeat_safe(request) {
            return self.attempt(account, copy(request)?, false).await;
        }
        let mut tries = futures::stream::FuturesUnordered::new();
        tries.push(self.attempt(account, copy(request)?, false));
        let mut sent = 1;
        let mut failed = None;
        loop {
            // After a try failed, the others are waited for, not added to: a failure is
            // for the quick retry (or the engine's backoff) to handle.
            let may_send_more = sent < MAX_TRIES && failed.is_none();
            tokio::select! {
                Some(answer) = tries.next() => {
                    if useful(&answer) {
                        return answer;
                    }
                    let failure = match failed.take() {
                        Some(earlier) => both_failed(earlier, answer),
                        None => answer.err().unwrap_or_else(unreadable),
                    };
                    if tries.is_empty() {
                        return Err(failure);
                    }
                    failed = Some(Err(failure));
                }
                () = tokio::time::sleep(self.stats.hedge_after(account)), if may_send_more => {
                    // Past the hedge delay, hedge as soon as hedges are few enough among
                    // recent calls (other calls ending make room).
                    if self.stats.may_hedge(account) {
                        tries.push(self.attempt(account, copy(request)?, true));
                        sent += 1;
                    }
                }
            }
        }
    }

    /// One try of a call; a hedge first waits for its own turn of the pace.
    async fn attempt(
        &self,
        account: &str,
        request: reqwest::Request,
        hedge: bool,
    ) -> Result<reqwest::Response, CallError> {
        if hedge {
            self.pace(account).await?;
        }
        self.call(account, request, hedge).await
    }

    /// One HTTP call, timed into the account's recent calls; a 429 holds the account off
    /// for everyone.
    async fn call(
        &self,
        account: &str,
        request: reqwest::Request,
        hedge: bool,
    ) -> Result<reqwest::Response, CallError> {
        let mut timing = Timing::start(&self.stats, account, hedge);
        let started = std::time::Instant::now();
        let answer = match self.http.execute(request).await {
            Ok(response) => check_status(response).await,
            Err(err) => Err(transport(err)),
        };
        crate::telemetry::marketplace_call(
            account,
            match &answer {
                Ok(_) => "ok",
                Err(CallError::Permanent { .. }) => "refused",
                Err(CallError::Transient { code, .. }) => code,
            },
            hedge,
            started.elapsed(),
        );
        timing.finish(match &answer {
            Err(CallError::Transient {
                code: "marketplace_timeout",
                ..
            }) => Answer::Slow,
            Err(CallError::Transient {
                code: "rate_limited",
                ..
            })
            | Ok(_)
            | Err(CallError::Permanent { .. }) => Answer::Answered,
            Err(CallError::Transient { .. }) => Answer::Failed,
        });
        match answer {
            Err(CallError::Transient {
                code: "rate_limited",
                message,
                retry_after,
            }) => {
                crate::telemetry::rate_limited(account);
                let wait = retry_after.unwrap_or_else(|| Duration::seconds(1));
                if let Err(err) = self
                    .pacer
                    .hold_off(account, wait.to_std().unwrap_or_default())
                    .await
                {
                    tracing::warn!(%err, account, "could not record the marketplace's hold-off");
                }
                Err(CallError::Transient {
                    code: "rate_limited",
                    message,
                    retry_after: Some(wait),
                })
            }
            other => other,
        }
    }

    /// Asks the marketplace whether an image URL is usable. `Ok(None)` means it is.
    pub async fn check_media(&self, account: &str, url: &str) -> Result<Option<Issue>, CallError> {
        let request = self
            .http
            .get(format!("{}/media/check", self.base_url))
            .query(&[("url", url), ("account", account)]);
        let response = self.send(account, request).await?;
        let reply: MediaReply = response.json().await.map_err(|err| CallError::Transient {
            code: "marketplace_bad_reply",
            message: format!("The marketplace's answer could not be read: {err}"),
            retry_after: None,
        })?;
        Ok(if reply.ok {
            None
        } else {
            Some(reply.issue.unwrap_or(Issue {
                code: "image_rejected".into(),
                severity: "ERROR".into(),
                message: "The marketplace cannot use this image.".into(),
                attribute_names: vec!["image_url".into()],
            }))
        })
    }

    /// Whether the marketplace answers the account at all (its circuit breaker's probe):
    /// one read of a listing that does not exist, outside the pace. `Err` only for a
    /// 5xx, a timeout or no connection.
    pub async fn reachable(&self, account: &str) -> Result<(), String> {
        let url = format!(
            "{}/listings/{}/stockroom-probe",
            self.base_url,
            encode(account)
        );
        match self.http.get(url).send().await {
            Ok(response) if response.status().is_server_error() => {
                Err(format!("The marketplace answered {}.", response.status()))
            }
            Ok(_) => Ok(()),
            Err(err) => Err(transport(err).to_string()),
        }
    }

    /// Creates or replaces a listing. The same `idempotency_key` never lists twice.
    pub async fn put_listing(
        &self,
        account: &str,
        sku: &str,
        listing: &ListingRequest,
        idempotency_key: &str,
    ) -> Result<String, CallError> {
        let url = format!(
            "{}/listings/{}/{}",
            self.base_url,
            encode(account),
            encode(sku)
        );
        let request = self
            .http
            .put(url)
            .header("idempotency-key", idempotency_key)
            .json(listing);
        let response = self.send(account, request).await?;
        let reply: ListingReply = response.json().await.map_err(|err| CallError::Transient {
            code: "marketplace_bad_reply",
            message: format!("The marketplace's answer could not be read: {err}"),
            retry_after: None,
        })?;
        match (reply.status.as_str(), reply.listing_id) {
            ("ACCEPTED", Some(listing_id)) => Ok(listing_id),
            _ => Err(permanent_from_issues(reply.issues)),
        }
    }

    /// Removes a listing. One that is already gone counts as removed.
    pub async fn delete_listing(&self, account: &str, sku: &str) -> Result<(), CallError> {
        let url = format!(
            "{}/listings/{}/{}",
            self.base_url,
            encode(account),
            encode(sku)
        );
        match self.send(account, self.http.delete(url)).await {
            Ok(_) => Ok(()),
            Err(CallError::Permanent { code, .. }) if code == "listing_not_found" => Ok(()),
            Err(err) => Err(err),
        }
    }
}

/// Tries of one call in flight at once: the call and up to two hedges.
const MAX_TRIES: usize = 3;
/// Tries of one call made at once after a passing failure, before the engine's backoff.
const QUICK_RETRIES: u32 = 2;
/// Above this share of failing calls the marketplace is in trouble, not passing through
/// a hiccup: failures then wait for the engine's backoff.
const HEALTHY_FAILURE_RATE: f64 = 0.2;

/// A quota wait is the marketplace's to set; everything else passing is worth a new try.
fn worth_retrying_now(code: &str) -> bool {
    !matches!(code, "rate_limited" | "pace_unavailable")
}

/// An answer that settles the call: a success or a refusal, not a passing failure.
fn useful(answer: &Result<reqwest::Response, CallError>) -> bool {
    !matches!(answer, Err(CallError::Transient { .. }))
}

/// Both tries failed: a quota wait wins (it is the marketplace's to set and costs the
/// item no attempt), else the later failure.
fn both_failed(
    earlier: Result<reqwest::Response, CallError>,
    later: Result<reqwest::Response, CallError>,
) -> CallError {
    let error =
        |answer: Result<reqwest::Response, CallError>| answer.err().unwrap_or_else(unreadable);
    match (error(earlier), error(later)) {
        (
            quota @ CallError::Transient {
                code: "rate_limited",
                ..
            },
            _,
        ) => quota,
        (_, later) => later,
    }
}

/// A success where a failure was expected: the answer could not be used.
fn unreadable() -> CallError {
    CallError::Transient {
        code: "marketplace_bad_reply",
        message: "The marketplace's answer could not be read.".into(),
        retry_after: None,
    }
}

/// A read, or a request the marketplace answers once per idempotency key: sending it
/// twice does no harm. A delete carries no key, so it is never sent twice at once.
fn repeat_safe(request: &reqwest::Request) -> bool {
    request.method() == reqwest::Method::GET || request.headers().contains_key("idempotency-key")
}

fn copy(request: &reqwest::Request) -> Result<reqwest::Request, CallError> {
    request.try_clone().ok_or_else(|| CallError::Transient {
        code: "marketplace_unreachable",
        message: "The request could not be prepared.".into(),
        retry_after: None,
    })
}

/// Times one call into the recent calls. A call dropped before it ended was slow (its
/// hedge answered first) or, for a hedge, not needed (its call answered first).
struct Timing<'a> {
    stats: &'a CallStats,
    account: &'a str,
    started: std::time::Instant,
    hedge: bool,
    done: bool,
}

impl<'a> Timing<'a> {
    fn start(stats: &'a CallStats, account: &'a str, hedge: bool) -> Self {
        Self {
            stats,
            account,
            started: std::time::Instant::now(),
            hedge,
            done: false,
        }
    }

    fn finish(&mut self, answer: Answer) {
        self.done = true;
        self.stats.record(
            self.account,
            Sample {
                latency: self.started.elapsed(),
                answer,
                hedge: self.hedge,
            },
        );
    }
}

impl Drop for Timing<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.finish(if self.hedge {
                Answer::Abandoned
            } else {
                Answer::Slow
            });
        }
    }
}

fn permanent_from_issues(issues: Vec<Issue>) -> CallError {
    let code = issues
        .first()
        .map(|i| i.code.clone())
        .unwrap_or_else(|| "listing_rejected".into());
    let message = if issues.is_empty() {
        "The marketplace refused the listing without saying why.".to_owned()
    } else {
        issues
            .iter()
            .map(|i| i.message.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    CallError::Permanent {
        code,
        message,
        issues,
    }
}

fn transport(err: reqwest::Error) -> CallError {
    if err.is_timeout() {
        CallError::Transient {
            code: "marketplace_timeout",
            message: "The marketplace did not answer in time.".into(),
            retry_after: None,
        }
    } else {
        CallError::Transient {
            code: "marketplace_unreachable",
            message: format!("The marketplace could not be reached: {err}"),
            retry_after: None,
        }
    }
}

async fn check_status(response: reqwest::Response) -> Result<reqwest::Response, CallError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
        return Err(CallError::Transient {
            code: "rate_limited",
            message: "The marketplace asked us to slow down.".into(),
            retry_after,
        });
    }
    if status == reqwest::StatusCode::CONFLICT {
        // The same idempotency key is still being worked on (a try sent earlier).
        return Err(CallError::Transient {
            code: "request_in_progress",
            message: "The marketplace is still working on this request.".into(),
            retry_after: None,
        });
    }
    if status.is_server_error() {
        return Err(CallError::Transient {
            code: "marketplace_unavailable",
            message: format!("The marketplace answered {status}."),
            retry_after: None,
        });
    }
    let body = response.text().await.unwrap_or_default();
    let code = if status == reqwest::StatusCode::NOT_FOUND {
        "listing_not_found"
    } else {
        "marketplace_rejected"
    };
    Err(CallError::Permanent {
        code: code.into(),
        message: format!(
            "The marketplace answered {status}: {}",
            body.chars().take(300).collect::<String>()
        ),
        issues: Vec::new(),
    })
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<i64>() {
        return Some(Duration::seconds(seconds.max(0)));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    let wait = when.duration_since(now).unwrap_or_default();
    Duration::from_std(wait).ok()
}

/// RFC 3986's unreserved characters stay as they are; everything else is encoded.
pub const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one path segment (a SKU may hold `/`, `?` or spaces).
fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::seconds(7)));
        let later = httpdate::fmt_http_date(now + std::time::Duration::from_secs(30));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::seconds(30)));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn issues_become_one_permanent_error_with_the_first_code() {
        let issue = |code: &str, message: &str| Issue {
            code: code.into(),
            severity: "ERROR".into(),
            message: message.into(),
            attribute_names: vec![],
        };
        let err = permanent_from_issues(vec![
            issue("image_missing", "Add an image."),
            issue("price_not_positive", "Price > 0."),
        ]);
        assert!(
            matches!(&err, CallError::Permanent { code, message, .. } if code == "image_missing" && message == "Add an image. Price > 0.")
        );
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode("SR-1/blue"), "SR-1%2Fblue");
    }
}
