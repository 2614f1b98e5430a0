//! What every operation shares, added once to the generated document instead of being
//! repeated on each handler — the handlers document what is theirs alone:
//! - the session cookie, and which operations go without it (the same list the session
//!   layer uses, [`crate::security::is_public`]);
//! - the answers the layers in front of every handler give: 401 (not logged in), 403 (a
//!   write from another site), and those of the extractors ([`crate::extract`]): 400 for
//!   a query, an id or a body that cannot be read, 413 and 422 for a JSON body;
//! - operation ids unique across the document (`tasks_create`, `connections_create`);
//! - links from every answer that carries an id to the operations that take it, so a
//!   client can walk task → items → failures → retry without being told how.

use serde_json::{json, Map, Value};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Answers that carry ids: the schema of the answer, where its id is, and the path whose
/// `{id}` it fills (that path and every path under it).
const CARRIERS: [(&str, &str, &str); 5] = [
    ("TaskSummary", "/id", "/api/v1/tasks/{id}"),
    ("TaskPage", "/items/0/id", "/api/v1/tasks/{id}"),
    ("Connection", "/id", "/api/v1/connections/{id}"),
    (
        "ConnectionList",
        "/connections/0/id",
        "/api/v1/connections/{id}",
    ),
    ("ItemPage", "/items/0/id", "/api/v1/items/{id}"),
];

pub fn finish(mut doc: Value) -> Value {
    doc["components"]["securitySchemes"] = json!({
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": app::auth::ssr::SESSION_COOKIE,
            "description": "The cookie POST /api/v1/login sets."
        }
    });
    doc["security"] = json!([{ "session": [] }]);
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return doc;
    };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            if let Some(operation) = item.get_mut(method) {
                shared_answers(path, method, operation);
                unique_id(operation);
            }
        }
    }
    let links = links(paths);
    for (path, method, status, name, link) in links {
        if let Some(response) = paths
            .get_mut(&path)
            .and_then(|item| item.get_mut(method))
            .and_then(|operation| operation["responses"].get_mut(&status))
        {
            response["links"][name] = link;
        }
    }
    doc
}

fn shared_answers(path: &str, method: &str, operation: &mut Value) {
    if crate::security::is_public(path) {
        operation["security"] = json!([]);
    } else {
        answer(operation, "401", "Not logged in, or the session ended");
    }
    answer(
        operation,
        "500",
        "Something went wrong on our side (logged); trying again may work",
    );
    answer(
        operation,
        "503",
        "The database's disk is full (`storage_full`): nothing was saved; the same request works once space is freed",
    );
    if method != "get" {
        answer(
            operation,
            "403",
            "A write from another site (its `Origin` or `Sec-Fetch-Site`), refused",
        );
    }
    let parameters = operation["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let takes = |place: &str| parameters.iter().any(|p| p["in"] == place);
    if takes("query") {
        answer(
            operation,
            "400",
            "A query parameter out of its range or not one of its values",
        );
    }
    if takes("path") {
        answer(
            operation,
            "400",
            "The id is not a whole number from 1 to 9223372036854775807",
        );
    }
    let json_body = operation["requestBody"]["content"]
        .get("application/json")
        .is_some();
    if json_body {
        answer(
            operation,
            "400",
            "The body is not JSON, or not sent as JSON",
        );
        answer(operation, "413", "The body is too large");
        answer(
            operation,
            "422",
            "A field is missing, unknown, of the wrong type or out of range; `fields` says which",
        );
    }
}

/// Adds an answer the operation does not document yet (its own words stay).
fn answer(operation: &mut Value, status: &str, description: &str) {
    let responses = &mut operation["responses"];
    if responses.get(status).is_none() {
        responses[status] = json!({
            "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } }
        });
    }
}

/// `list` and `create` exist in several modules: the tag makes them unique.
fn unique_id(operation: &mut Value) {
    let tag = operation["tags"][0].as_str().unwrap_or("api").to_owned();
    if let Some(id) = operation["operationId"].as_str() {
        if !id.starts_with(&format!("{tag}_")) {
            operation["operationId"] = json!(format!("{tag}_{id}"));
        }
    }
}

type NewLink = (String, &'static str, String, String, Value);

/// Every link: from each success answer whose schema carries an id, to each operation
/// under the path that takes it (but not back to itself).
fn links(paths: &Map<String, Value>) -> Vec<NewLink> {
    let mut links = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let Some(responses) = operation["responses"].as_object() else {
                continue;
            };
            for (status, response) in responses {
                if !status.starts_with('2') {
                    continue;
                }
                let Some(schema) = response["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                else {
                    continue;
                };
                for (carrier, pointer, prefix) in CARRIERS {
                    if carrier != schema {
                        continue;
                    }
                    for (target_path, target) in paths {
                        let under =
                            target_path == prefix || target_path.starts_with(&format!("{prefix}/"));
                        if !under {
                            continue;
                        }
                        for target_method in METHODS {
                            let Some(target_id) = target
                                .get(target_method)
                                .and_then(|op| op["operationId"].as_str())
                            else {
                                continue;
                            };
                            if target_path == path && target_method == method {
                                continue;
                            }
                            links.push((
                                path.clone(),
                                method,
                                status.clone(),
                                target_id.to_owned(),
                                json!({
                                    "operationId": target_id,
                                    "parameters": { "id": format!("$response.body#{pointer}") },
                                }),
                            ));
                        }
                    }
                }
            }
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        json!({
            "paths": {
                "/api/v1/login": { "post": { "operationId": "login", "tags": ["session"],
                    "requestBody": { "content": { "application/json": {} } },
                    "responses": { "200": { "description": "ok" } } } },
                "/api/v1/tasks": {
                    "post": { "operationId": "create", "tags": ["tasks"],
                        "requestBody": { "content": { "application/json": {} } },
                        "responses": { "202": { "description": "Started", "content": { "application/json": {
                            "schema": { "$ref": "#/components/schemas/TaskSummary" } } } } } },
                    "get": { "operationId": "list", "tags": ["tasks"],
                        "parameters": [{ "name": "page", "in": "query" }],
                        "responses": { "200": { "description": "A page" } } } },
                "/api/v1/tasks/{id}": { "get": { "operationId": "show", "tags": ["tasks"],
                    "parameters": [{ "name": "id", "in": "path" }],
                    "responses": { "200": { "description": "The task", "content": { "application/json": {
                        "schema": { "$ref": "#/components/schemas/TaskSummary" } } } } } } },
                "/api/v1/tasks/{id}/retry": { "post": { "operationId": "retry", "tags": ["tasks"],
                    "responses": { "200": { "description": "The task" } } } },
                "/api/v1/tasks/preview": { "post": { "operationId": "preview", "tags": ["tasks"],
                    "responses": { "200": { "description": "What it would do" } } } },
            },
            "components": { "schemas": {} }
        })
    }

    #[test]
    fn public_operations_go_without_the_cookie_and_the_rest_answer_401() {
        let doc = finish(doc());
        assert_eq!(doc["security"], json!([{ "session": [] }]));
        let login = &doc["paths"]["/api/v1/login"]["post"];
        assert_eq!(login["security"], json!([]));
        assert!(login["responses"].get("401").is_none());
        let show = &doc["paths"]["/api/v1/tasks/{id}"]["get"];
        assert!(show["responses"].get("401").is_some());
        assert!(show["responses"].get("400").is_some(), "a bad id");
        assert!(
            show["responses"].get("403").is_none(),
            "reads are never refused as cross-site"
        );
        let create = &doc["paths"]["/api/v1/tasks"]["post"];
        for status in ["400", "403", "413", "422"] {
            assert!(create["responses"].get(status).is_some(), "{status}");
        }
        assert_eq!(
            create["responses"]["202"]["description"], "Started",
            "own words stay"
        );
    }

    #[test]
    fn ids_are_unique_by_tag_and_answers_link_to_what_takes_their_id() {
        let doc = finish(doc());
        let create = &doc["paths"]["/api/v1/tasks"]["post"];
        assert_eq!(create["operationId"], "tasks_create");
        let links = create["responses"]["202"]["links"]
            .as_object()
            .expect("links");
        let mut names: Vec<&str> = links.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["tasks_retry", "tasks_show"],
            "not preview: it takes no id"
        );
        assert_eq!(
            links["tasks_retry"]["parameters"]["id"],
            "$response.body#/id"
        );
        let show = &doc["paths"]["/api/v1/tasks/{id}"]["get"]["responses"]["200"]["links"];
        assert!(show.get("tasks_show").is_none(), "no link to itself");
        assert!(show.get("tasks_retry").is_some());
    }
}
