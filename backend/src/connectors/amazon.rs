//! Amazon SP-API, Listings Items 2021-08-01: one SKU a call, 5 requests a second per
//! selling partner, an access token from Login with Amazon in `x-amz-access-token`.
//!
//! A `PUT` answers `ACCEPTED` or `INVALID` with issues; `ACCEPTED` is not final. The item
//! then waits ("accepted, waiting for the marketplace") and is checked with a `GET` until
//! Amazon has processed it: buyable (listed) or with issues (refused, with Amazon's late
//! issues). A `PUT` is an upsert by SKU, so a crash between the call and its record only
//! sends the same listing again.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::Marketplaces;
use crate::catalog::Item;
use crate::connections::Opened;
use crate::marketplace::{CallError, Issue};

/// The product type Stockroom lists under (a marketplace-wide generic one).
const PRODUCT_TYPE: &str = "PRODUCT";

/// A submission's answer.
#[derive(Debug, Clone)]
pub struct Submission {
    pub accepted: bool,
    pub submission_id: String,
    pub issues: Vec<Issue>,
}

/// What a processed listing looks like on Amazon.
#[derive(Debug, Clone)]
pub struct Processed {
    pub asin: Option<String>,
    pub buyable: bool,
    /// When Amazon last changed the listing: before a submission, the listing shown is
    /// the one from before it (still processing).
    pub last_updated: Option<DateTime<Utc>>,
    /// Amazon's issues of severity ERROR.
    pub errors: Vec<Issue>,
}

pub struct Amazon<'a> {
    marketplaces: &'a Marketplaces,
    opened: &'a Opened,
}

impl<'a> Amazon<'a> {
    pub fn new(marketplaces: &'a Marketplaces, opened: &'a Opened) -> Self {
        Self {
            marketplaces,
            opened,
        }
    }

    fn item_url(&self, sku: &str) -> String {
        let connection = &self.opened.connection;
        format!(
            "{}/listings/2021-08-01/items/{}/{}",
            connection.base_url,
            super::encode(&connection.account),
            super::encode(sku)
        )
    }

    fn marketplace_id(&self) -> &str {
        &self.opened.connection.marketplace_id
    }

    /// The listing's attributes as Amazon's product type schema names them.
    pub fn attributes(&self, item: &Item) -> Value {
        let marketplace = self.marketplace_id();
        let price = item.price_minor as f64 / 100.0;
        let mut attributes = json!({
            "condition_type": [{ "value": "new_new", "marketplace_id": marketplace }],
            "item_name": [{ "value": item.title, "language_tag": "en_US", "marketplace_id": marketplace }],
            "purchasable_offer": [{
                "marketplace_id": marketplace,
                "currency": item.currency,
                "our_price": [{ "schedule": [{ "value_with_tax": price }] }],
            }],
            "fulfillment_availability": [{ "fulfillment_channel_code": "DEFAULT", "quantity": item.quantity }],
        });
        if !item.description.is_empty() {
            attributes["product_description"] = json!([
                { "value": item.description, "language_tag": "en_US", "marketplace_id": marketplace }
            ]);
        }
        if let Some(image) = item.image_url.as_deref().filter(|url| !url.is_empty()) {
            attributes["main_product_image_locator"] =
                json!([{ "media_location": image, "marketplace_id": marketplace }]);
        }
        attributes
    }

    /// One call, paced for the selling partner, with a token; a token Amazon says has
    /// expired is fetched again and the call made once more.
    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), CallError> {
        let connection = &self.opened.connection;
        for fresh_token in [false, true] {
            self.marketplaces
                .pace(&format!("amazon-{}", connection.id))
                .await?;
            let token = self
                .marketplaces
                .access_token(self.opened)
                .await
                .map_err(super::token_error)?;
            let mut request = self
                .marketplaces
                .http()
                .request(method.clone(), url)
                // Amazon answers in a second or two: a call silent for 10 s is given up
                // and made again (a PUT is an upsert by SKU, a GET a read).
                .timeout(std::time::Duration::from_secs(10))
                .query(query)
                .header("x-amz-access-token", token);
            if let Some(body) = body {
                request = request.json(body);
            }
            let key = format!("amazon-{}", connection.id);
            let response = super::send_counted(&key, request).await?;
            let status = response.status();
            let retry_after = super::retry_after(response.headers());
            let reply: Value = response.json().await.unwrap_or(Value::Null);
            match status.as_u16() {
                403 if !fresh_token && mentions(&reply, "expired") => {
                    self.marketplaces.tokens().forget(connection.id);
                    continue;
                }
                403 => {
                    self.marketplaces.tokens().forget(connection.id);
                    return Err(CallError::Permanent {
                        code: "marketplace_access_denied".into(),
                        message: format!(
                            "Amazon refused access for selling partner {}: {}",
                            connection.account,
                            first_error(&reply)
                        ),
                        issues: Vec::new(),
                    });
                }
                429 => {
                    let wait = retry_after.unwrap_or(chrono::Duration::seconds(1));
                    self.marketplaces
                        .hold_off(&format!("amazon-{}", connection.id), wait)
                        .await;
                    return Err(CallError::Transient {
                        code: "rate_limited",
                        message: "Waiting for Amazon's quota.".into(),
                        retry_after: Some(wait),
                    });
                }
                500..=599 => {
                    return Err(CallError::Transient {
                        code: "marketplace_unavailable",
                        message: format!("Amazon answered {status}: {}", first_error(&reply)),
                        retry_after,
                    })
                }
                _ => return Ok((status, reply)),
            }
        }
        Err(CallError::Transient {
            code: "marketplace_unavailable",
            message: "Amazon kept refusing a fresh access token.".into(),
            retry_after: None,
        })
    }

    /// `PUT` the listing: Amazon's submission answer.
    pub async fn put(&self, item: &Item) -> Result<Submission, CallError> {
        let body = json!({
            "productType": PRODUCT_TYPE,
            "requirements": "LISTING",
            "attributes": self.attributes(item),
        });
        let (status, reply) = self
            .call(
                reqwest::Method::PUT,
                &self.item_url(&item.sku),
                &[("marketplaceIds", self.marketplace_id())],
                Some(&body),
            )
            .await?;
        if status != StatusCode::OK {
            return Err(bad_request(status, &reply));
        }
        Ok(Submission {
            accepted: reply["status"] == "ACCEPTED",
            submission_id: reply["submissionId"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            issues: issues(&reply["issues"]),
        })
    }

    /// `GET` the listing: `None` while Amazon has not processed a new SKU.
    pub async fn check(&self, sku: &str) -> Result<Option<Processed>, CallError> {
        let (status, reply) = self
            .call(
                reqwest::Method::GET,
                &self.item_url(sku),
                &[
                    ("marketplaceIds", self.marketplace_id()),
                    ("includedData", "summaries,issues"),
                ],
                None,
            )
            .await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            StatusCode::OK => {
                let summary = &reply["summaries"][0];
                let buyable = summary["status"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|v| v == "BUYABLE"));
                Ok(Some(Processed {
                    asin: summary["asin"].as_str().map(str::to_owned),
                    buyable,
                    last_updated: summary["lastUpdatedDate"]
                        .as_str()
                        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                        .map(|at| at.with_timezone(&Utc)),
                    errors: issues(&reply["issues"])
                        .into_iter()
                        .filter(|issue| issue.severity == "ERROR")
                        .collect(),
                }))
            }
            other => Err(bad_request(other, &reply)),
        }
    }

    /// `DELETE` the listing (Amazon accepts a delete of a SKU it does not have).
    pub async fn delete(&self, sku: &str) -> Result<(), CallError> {
        let (status, reply) = self
            .call(
                reqwest::Method::DELETE,
                &self.item_url(sku),
                &[("marketplaceIds", self.marketplace_id())],
                None,
            )
            .await?;
        match status {
            StatusCode::OK | StatusCode::NOT_FOUND => Ok(()),
            other => Err(bad_request(other, &reply)),
        }
    }
}

fn mentions(reply: &Value, word: &str) -> bool {
    reply["errors"]
        .as_array()
        .is_some_and(|errors| errors.iter().any(|e| e.to_string().contains(word)))
}

fn first_error(reply: &Value) -> String {
    let error = &reply["errors"][0];
    match (error["message"].as_str(), error["details"].as_str()) {
        (Some(message), Some(details)) if !details.is_empty() => format!("{message} {details}"),
        (Some(message), _) => message.to_owned(),
        _ => "no reason given".to_owned(),
    }
}

fn bad_request(status: StatusCode, reply: &Value) -> CallError {
    CallError::Permanent {
        code: "listing_rejected".into(),
        message: format!("Amazon answered {status}: {}", first_error(reply)),
        issues: Vec::new(),
    }
}

/// Amazon's issues, each with the item field it is about.
fn issues(raw: &Value) -> Vec<Issue> {
    raw.as_array()
        .map(|list| {
            list.iter()
                .map(|issue| Issue {
                    code: our_code(issue),
                    severity: issue["severity"].as_str().unwrap_or("ERROR").to_owned(),
                    message: issue["message"].as_str().unwrap_or_default().to_owned(),
                    attribute_names: issue["attributeNames"]
                        .as_array()
                        .map(|names| {
                            names
                                .iter()
                                .filter_map(Value::as_str)
                                .map(field_of)
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The item field an Amazon attribute comes from.
pub fn field_of(attribute: &str) -> String {
    match attribute {
        "item_name" => "title",
        "product_description" => "description",
        "purchasable_offer" | "list_price" => "price",
        "fulfillment_availability" => "quantity",
        "main_product_image_locator" | "other_product_image_locator" => "image_url",
        "item_type_keyword" | "product_type" => "category",
        other => other,
    }
    .to_owned()
}

/// Our stable code for an Amazon issue, from its categories and attribute, so failures
/// group with the same reasons as every marketplace's.
fn our_code(issue: &Value) -> String {
    let category = |name: &str| {
        issue["categories"]
            .as_array()
            .is_some_and(|c| c.iter().any(|v| v == name))
    };
    let attribute = issue["attributeNames"][0].as_str().unwrap_or_default();
    if category("MISSING_IMAGE") {
        "image_missing"
    } else if category("INVALID_IMAGE") {
        "image_rejected"
    } else if category("INVALID_PRICE") || category("MISSING_PRICE") {
        "price_not_positive"
    } else if attribute == "item_name" && category("MISSING_ATTRIBUTE") {
        "title_missing"
    } else if attribute == "item_name" {
        "title_too_long"
    } else if category("QUALIFICATION_REQUIRED") {
        "category_restricted"
    } else {
        "listing_rejected"
    }
    .to_owned()
}

/// When to look again at a submission made at `submitted`: soon at first, then less
/// often (Amazon takes from seconds to many minutes).
pub fn next_check(submitted: DateTime<Utc>, now: DateTime<Utc>) -> chrono::Duration {
    let since = (now - submitted).num_seconds().max(0);
    chrono::Duration::seconds((since / 2).clamp(2, 60))
}

/// After this long in processing, the seller is told rather than left waiting.
pub const PROCESSING_LIMIT: chrono::Duration = chrono::Duration::minutes(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amazon_issues_name_the_item_field_and_our_code() {
        let raw = json!([{
            "code": "18027", "message": "No main image.", "severity": "ERROR",
            "attributeNames": ["main_product_image_locator"], "categories": ["MISSING_IMAGE"]
        }, {
            "code": "90220", "message": "'item_name' is required but not supplied.", "severity": "ERROR",
            "attributeNames": ["item_name"], "categories": ["MISSING_ATTRIBUTE"]
        }]);
        let mapped = issues(&raw);
        assert_eq!(mapped[0].code, "image_missing");
        assert_eq!(mapped[0].attribute_names, ["image_url"]);
        assert_eq!(mapped[1].code, "title_missing");
        assert_eq!(mapped[1].attribute_names, ["title"]);
    }

    #[test]
    fn checks_come_soon_then_less_often() {
        let t0 = Utc::now();
        assert_eq!(next_check(t0, t0), chrono::Duration::seconds(2));
        assert_eq!(
            next_check(t0, t0 + chrono::Duration::seconds(40)),
            chrono::Duration::seconds(20)
        );
        assert_eq!(
            next_check(t0, t0 + chrono::Duration::minutes(20)),
            chrono::Duration::seconds(60)
        );
    }
}
