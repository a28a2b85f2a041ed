//! The OpenAPI 3.0 document of the operator API, written by hand and served at
//! `GET /api/v1/openapi.json`. A test checks that it documents exactly the routes of
//! `api::ROUTES` (every path and method, nothing more).

use serde_json::{Value, json};

fn err(desc: &str) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok(desc: &str, schema: Value) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": schema}}})
}

fn any() -> Value {
    json!({"type": "object"})
}

/// A read endpoint for any logged-in operator.
fn read(summary: &str, params: Value, schema: Value) -> Value {
    json!({
        "summary": summary,
        "parameters": params,
        "responses": {"200": ok("OK", schema), "400": err("bad query"), "401": err("not logged in or expired")},
    })
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true,
           "description": "return id R-<station>-<yyyymmdd>-<n>; anything else is 400",
           "schema": {"type": "string", "pattern": "^R-[A-Z0-9]+-[0-9]{8}-[0-9]+$"}})
}

fn q(name: &str, ty: &str, desc: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": desc, "schema": {"type": ty}})
}

/// A command endpoint (JSON body, optional Idempotency-Key, CSRF for cookie sessions).
fn command(summary: &str, roles: &str, body: Value, with_id: bool) -> Value {
    let mut params = vec![
        json!({"name": "Idempotency-Key", "in": "header", "required": false,
        "description": "same key + same request within 24 h: the first answer, applied once",
        "schema": {"type": "string", "maxLength": 128}}),
    ];
    if with_id {
        params.insert(0, id_param());
    }
    json!({
        "summary": format!("{summary} (roles: {roles})"),
        "parameters": params,
        "requestBody": {"required": true, "content": {"application/json": {"schema": body}}},
        "responses": {
            "200": ok("done (journaled)", json!({"$ref": "#/components/schemas/CommandResult"})),
            "400": err("bad id, bad JSON or a bad field"),
            "401": err("not logged in or expired"),
            "403": err("role not allowed, CSRF token missing, cross-origin, or same person"),
            "404": err("no such return"),
            "409": err("refused by the return's state, or the same Idempotency-Key is still running"),
            "413": err("body over 64 KiB"),
            "415": err("Content-Type is not application/json"),
            "422": err("Idempotency-Key reused for another request, or unknown reason/bin"),
            "503": err("not saved: the station cannot write, is busy or timed out"),
            "507": err("not saved: disk full"),
        },
    })
}

/// A command endpoint whose path names a bin or an RTV note (`param`).
fn command_at(summary: &str, roles: &str, body: Value, param: Value) -> Value {
    let mut c = command(summary, roles, body, false);
    if let Some(p) = c["parameters"].as_array_mut() {
        p.insert(0, param);
    }
    c
}

fn bin_param() -> Value {
    json!({"name": "bin", "in": "path", "required": true,
           "description": "bin code: 1 to 16 of A-Z 0-9 -; anything else is 400",
           "schema": {"type": "string", "pattern": "^[A-Z0-9-]{1,16}$"}})
}

fn note_param() -> Value {
    json!({"name": "note", "in": "path", "required": true,
           "description": "RTV note number RTV-<station>-<yyyymmdd>-<n>; anything else is 400",
           "schema": {"type": "string", "pattern": "^RTV-[A-Za-z0-9_-]{1,96}$"}})
}

fn obj(required: &[&str], props: Value) -> Value {
    // OpenAPI 3.0 wants `required` to list at least one name: left out when none is.
    if required.is_empty() {
        return json!({"type": "object", "properties": props});
    }
    json!({"type": "object", "required": required, "properties": props})
}

fn items() -> Value {
    json!({"type": "array", "items": {"type": "integer", "minimum": 1}, "description": "item numbers; empty = all"})
}

/// The bins, RTV notes and defect items paths (apart: one `json!` this large would pass
/// the macro's recursion limit).
fn zones_and_rtv_paths() -> Value {
    let s = |t: &str| json!({"type": t});
    json!({
            "/rtv-notes/{note}/close": {"post": command_at("record the handover of an RTV note's goods to the vendor or carrier (rtv.note_closed); unknown note 404, already closed 409", "supervisor",
            obj(&[], json!({"waybill": {"type": "string", "description": "carrier waybill, 6-40 letters/digits (optional)"},
                "note": {"type": "string", "maxLength": 500}})), note_param())},
        "/defect-items": {"get": read("every item now in the defect zone or a defect bin (the RTV pick list)", json!([]),
            obj(&["items"], json!({"items": {"type": "array", "items": obj(&["ref", "return_id", "item_no", "sku", "zone"], json!({
                "ref": s("string"), "return_id": s("string"), "item_no": s("integer"), "sku": s("string"),
                "name": s("string"), "zone": s("string"), "bin": s("string"),
                "defect_reasons": {"type": "array", "items": s("string")}, "inspected_by": s("string"),
                "since": s("string")}))}})))},
        "/zones": {"get": read("effective bins (config overlaid by zone.bin_set edits: code, class, label, active, source config|edited, units) and stock per zone and SKU (ledger)", json!([]),
            obj(&["bins", "stock"], json!({"bins": {"type": "array", "items": obj(&["code", "class", "active", "source", "units"], json!({
                "code": s("string"), "class": {"type": "string", "enum": ["good", "defect"]}, "label": s("string"),
                "active": s("boolean"), "source": {"type": "string", "enum": ["config", "edited"]},
                "configured_class": s("string"), "units": s("integer"), "edited_at": s("string"), "edited_by": s("string")}))},
                "stock": {"type": "array", "items": any()}})))},
        "/zones/bins": {"post": command("add a bin or set its class and label (zone.bin_set); a bin holding stock keeps its class", "supervisor",
            obj(&["code", "class"], json!({"code": {"type": "string", "pattern": "^[A-Z0-9-]{1,16}$"},
                "class": {"type": "string", "enum": ["good", "defect"]},
                "label": {"type": "string", "maxLength": 100, "description": "absent or empty: none"}})), false)},
        "/zones/bins/{bin}/retire": {"post": command_at("retire an empty bin: put-away into it is refused (zone.bin_set active=false); unknown bin 404, holding stock 409", "supervisor",
            obj(&[], json!({})), bin_param())},
        "/zones/bins/{bin}/reactivate": {"post": command_at("accept put-away into a retired bin again; unknown bin 404", "supervisor",
            obj(&[], json!({})), bin_param())},
        "/operators/lockouts": {"get": read("badges locked out after wrong PINs, with the seconds their lock has left (roles: supervisor)", json!([]),
            obj(&["lockouts"], json!({"lockouts": {"type": "array", "items": obj(&["badge", "locked_for_s"], json!({
                "badge": s("string"), "locked_for_s": s("integer")}))}})))},
        "/operators/unlock": {"post": command("lift a badge's lockout before it runs out (operator.unlocked); the badge may log in again at once", "supervisor",
            obj(&["unlock_badge"], json!({"unlock_badge": {"type": "string", "pattern": "^(OP-)?[A-Za-z0-9_]{1,32}$", "description": "the locked badge"}})), false)},
        "/rtv-notes": {"get": read("return-to-vendor notes, newest first: lines, state open|closed, the handover once closed",
            json!([q("state", "string", "open|closed"), q("limit", "integer", "1-1000, default 200")]), any())},
    })
}

/// The document: the paths of every group merged under one `paths`.
pub fn document() -> Value {
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {"title": "returnsd operator API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": components(),
        "security": [{"cookie": []}, {"bearer": []}],
        "paths": {},
    });
    if let Some(paths) = doc["paths"].as_object_mut() {
        for group in [returns_paths(), station_paths(), zones_and_rtv_paths()] {
            let Value::Object(group) = group else {
                continue;
            };
            for (path, ops) in group {
                match paths.get_mut(&path).and_then(Value::as_object_mut) {
                    Some(existing) => existing.extend(ops.as_object().cloned().unwrap_or_default()),
                    None => {
                        paths.insert(path, ops);
                    }
                }
            }
        }
    }
    doc
}

/// The security schemes and the schemas the paths refer to.
fn components() -> Value {
    let s = |t: &str| json!({"type": t});
    json!({
        "securitySchemes": {
            "cookie": {"type": "apiKey", "in": "cookie", "name": "returnsd_session",
                       "description": "mutating requests also need X-CSRF-Token"},
            "bearer": {"type": "http", "scheme": "bearer"},
        },
        "schemas": {
            "Error": obj(&["error", "message"], json!({"error": s("string"), "message": s("string")})),
            "CommandResult": obj(&["ok", "code", "message"], json!({
                "ok": s("boolean"), "code": s("string"), "message": s("string"),
                "params": any(), "seq_first": s("integer"), "seq_last": s("integer"),
                "return_id": s("string")})),
            "StandardLine": obj(&["code", "label_zh", "label_en"], json!({
                "code": s("string"), "label_zh": s("string"), "label_en": s("string")})),
            "Session": obj(&["token", "csrf_token", "idle_timeout_s", "operator"], json!({
                "token": s("string"), "csrf_token": s("string"), "idle_timeout_s": s("integer"),
                "operator": any()})),
        },
    })
}

/// Login and logout, the returns (list, detail, queue) and the commands on them.
fn returns_paths() -> Value {
    let s = |t: &str| json!({"type": t});
    let line = || json!({"$ref": "#/components/schemas/StandardLine"});
    let standards = read(
        "inspection standards (checklists) per product category: feed items inspection_standard, and the built-in lines used when none applies",
        json!([]),
        obj(
            &["standards", "builtin"],
            json!({
                "standards": {"type": "array", "items": obj(&["standard", "version", "lines"], json!({
                    "standard": s("string"), "version": s("integer"),
                    "lines": {"type": "array", "items": line()}}))},
                "builtin": {"type": "array", "items": line()}}),
        ),
    );
    json!({
        "/openapi.json": {"get": {"summary": "this document", "security": [],
            "responses": {"200": ok("OK", any())}}},
        "/session": {
            "post": {"summary": "log in with badge and PIN", "security": [],
                "requestBody": {"required": true, "content": {"application/json": {"schema":
                    obj(&["badge", "pin"], json!({"badge": s("string"), "pin": s("string"),
                        "lang": {"type": "string", "enum": ["zh-CN", "en"]}}))}}},
                "responses": {
                    "200": ok("session (also set as the returnsd_session cookie)", json!({"$ref": "#/components/schemas/Session"})),
                    "400": err("bad JSON or fields"), "401": err("wrong badge or PIN"),
                    "403": err("cross-origin"), "415": err("not JSON"),
                    "429": err("badge locked after repeated wrong PINs")}},
            "delete": {"summary": "log out", "responses": {"200": ok("logged out", any()),
                "401": err("not logged in"), "403": err("CSRF or cross-origin")}},
        },
        "/me": {"get": read("the logged-in operator", json!([]), any())},
        "/returns": {"get": read("returns, newest first, customer names masked",
            json!([q("stage", "string", "received|unpacked|first_checked|inspected|put_away|closed|voided"),
                   q("kind", "string", "customer_return|carrier_return|refused"),
                   q("q", "string", "prefix of the waybill or the return id"),
                   q("limit", "integer", "1-500, default 50"), q("offset", "integer", "default 0")]),
            any())},
        "/returns/{id}": {"get": read("one return: items, events, photos, labels, the inspection checklist per item (checklists); with inspection.blind an inspector gets no first-check results (blind: true)",
            json!([id_param(), q("reveal", "integer", "1: unmasked customer data (supervisors)")]), any())},
        "/inspection-queue": {"get": read("returns waiting for the second inspection, oldest first, with due times",
            json!([q("kind", "string", "filter"), q("limit", "integer", "1-500, default 200"), q("offset", "integer", "default 0")]), any())},
        "/defect-reasons": {"get": read("defect reasons (code, zh/en labels) and whether defects need a photo",
            json!([]), obj(&["reasons", "photo_required"], json!({"photo_required": s("boolean"),
                "reasons": {"type": "array", "items": obj(&["code", "label_zh", "label_en", "seller_fault"],
                    json!({"code": s("string"), "label_zh": s("string"), "label_en": s("string"),
                           "seller_fault": s("boolean")}))}})))},
        "/inspection-standards": {"get": standards},
        "/returns/{id}/inspect": {"post": command("second inspection", "inspector, supervisor",
            obj(&["grade"], json!({"grade": {"type": "string", "enum": ["good", "defect"]}, "items": items(),
                "defect_reasons": {"type": "array", "items": s("string")}, "note": s("string"),
                "photos": {"type": "array", "items": s("string"), "description": "sha256 of stored photos"},
                "checklist": {"type": "array", "description": "the inspection standard's lines as answered",
                    "items": obj(&["code", "met"], json!({"code": s("string"), "met": s("boolean")}))}})), true)},
        "/returns/{id}/put-away": {"post": command("move to a zone or bin", "keeper, inspector, supervisor",
            obj(&["zone"], json!({"zone": s("string"), "items": items()})), true)},
        "/returns/{id}/reprint": {"post": command("reprint the return label", "keeper, supervisor",
            obj(&["reason"], json!({"reason": s("string")})), true)},
        "/returns/{id}/exchange-shipped": {"post": command("exchange shipped to the customer", "keeper, supervisor",
            obj(&["waybill"], json!({"waybill": s("string"), "items": items()})), true)},
        "/returns/{id}/restock": {"post": command("release good items to sellable stock", "keeper, supervisor",
            obj(&[], json!({})), true)},
        "/returns/{id}/void": {"post": command("void the return", "supervisor",
            obj(&["reason"], json!({"reason": s("string")})), true)},
        "/rtv-notes": {"post": command("return-to-vendor note over defect items", "keeper, supervisor",
            obj(&["vendor", "items"], json!({"vendor": s("string"),
                "items": {"type": "array", "items": s("string"), "description": "item labels R-…-0001.1"}})), false)},
    })
}

/// The station's health, the journal, the event stream, photos, print jobs and the
/// kiosk's endpoints.
fn station_paths() -> Value {
    let s = |t: &str| json!({"type": t});
    let preview = json!({"summary": "a print job's label as a PNG, rendered from the bytes as sent",
        "parameters": [{"name": "job", "in": "path", "required": true,
            "schema": {"type": "integer", "minimum": 1}}],
        "responses": {"200": {"description": "the label", "content": {"image/png": {}}},
            "400": err("not a job number"), "401": err("not logged in"), "404": err("no such job, or one never rendered on a station without a printer")}});
    json!({
        "/devices": {"get": read("scanners and printers (the device board)", json!([]), any())},
        "/alarms": {"get": read("alarms: devices, sync push, disk, clock, print jobs", json!([]), any())},
        "/sync": {"get": read("sync status: backlog, push (while a photo the station cannot upload holds it back, push.blocked_photo: sha256, sha256_prefix, seq, problem missing|damaged|unreadable, the supervisor's command, and message in the caller's language; see POST /photos/lost), feed (with the ten most recently rejected feed items and their reasons: feed.recent_rejected), clock, disk", json!([]), any())},
        "/journal": {"get": read("the journal, read-only (with inspection.blind an inspector gets first-check events redacted)",
            json!([q("after", "integer", "seq, default 0"), q("limit", "integer", "1-1000, default 100")]), any())},
        "/events": {"get": {"summary": "server-sent events: hello, journal (a scan's answer included), devices, alarms, lagged, session_expired (cookie session for EventSource; the bench PC's kiosk without a session)",
            "parameters": [q("lang", "string", "zh-CN or en: the language of scan messages")],
            "responses": {"200": {"description": "text/event-stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                "401": err("not logged in or expired"), "503": err("too many streams")}}},
        "/photos": {"post": {"summary": "store an inspection photo (raw body; location metadata removed) (roles: inspector, supervisor)",
            "requestBody": {"required": true, "content": {
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "image/webp": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {"201": ok("stored", obj(&["sha256", "bytes", "content_type"], json!({
                    "sha256": s("string"), "bytes": s("integer"), "content_type": s("string"),
                    "metadata_removed_bytes": s("integer")}))),
                "400": err("damaged image"), "401": err("not logged in or expired"),
                "403": err("role, CSRF or cross-origin"), "413": err("over http.photo_max_mib"),
                "415": err("not JPEG/PNG/WebP, or Content-Type does not match the content")}}},
        "/photos/{sha}": {"get": {"summary": "one stored photo",
            "parameters": [{"name": "sha", "in": "path", "required": true,
                "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}],
            "responses": {"200": {"description": "the image", "content": {
                    "image/jpeg": {}, "image/png": {}, "image/webp": {}}},
                "400": err("not a SHA-256"), "401": err("not logged in"), "404": err("no such photo")}}},
        "/photos/lost": {"post": command("acknowledge a photo the station can no longer upload (missing from its photo store or damaged) as lost (photo.lost, contract 1.1): the events waiting for it go to the central with it marked \"lost\": true; GET /sync names the photo holding the push back (push.blocked_photo). No event waiting for the central references it 404, already acknowledged 409, empty reason 422", "supervisor",
            obj(&["sha256", "reason"], json!({"sha256": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
                "reason": {"type": "string", "minLength": 1, "maxLength": 500, "description": "why it is lost (sent to the central)"}})), false)},
        "/print-jobs": {"get": read("print jobs (unconfirmed; all=1: newest of every state)",
            json!([q("all", "integer", "1: every state"), q("limit", "integer", "1-1000, default 100")]), any())},
        "/print-jobs/{job}/preview.png": {"get": preview},
        "/returns/{id}/qc-sheet": {"get": {"summary": "the return's quality-check sheet 退货质量检查表: printable HTML (A4), no script; with inspection.blind an inspector gets the first check left off",
            "parameters": [id_param(), q("lang", "string", "zh-CN or en (default: the caller's)")],
            "responses": {"200": {"description": "the sheet", "content": {"text/html": {"schema": {"type": "string"}}}},
                "400": err("bad id"), "401": err("not logged in or expired"), "404": err("no such return")}}},
        "/qc-sheets": {"get": {"summary": "the quality-check sheets of every return inspected on a station day, one HTML file for customer service (photos inside up to 32 MiB) (roles: supervisor)",
            "parameters": [q("date", "string", "YYYY-MM-DD, the station's local day (default today)"), q("lang", "string", "zh-CN or en")],
            "responses": {"200": {"description": "the day's sheets (Content-Disposition: attachment)", "content": {"text/html": {"schema": {"type": "string"}}}},
                "400": err("date is not YYYY-MM-DD"), "401": err("not logged in or expired"), "403": err("not a supervisor")}}},
        "/reports/daily": {"get": {"summary": "a station day in figures: received by kind, unannounced, card missing, first-checked, inspected, good/defect units, refund deadlines passed and exchanges overdue of the day's returns, the defect Pareto by reason and by SKU (roles: supervisor)",
            "parameters": [q("date", "string", "YYYY-MM-DD, the station's local day (default today)"), q("lang", "string", "zh-CN or en: the reasons' labels")],
            "responses": {"200": ok("the day's report", any()),
                "400": err("date is not YYYY-MM-DD"), "401": err("not logged in or expired"), "403": err("not a supervisor")}}},
        "/i18n": {"get": {"summary": "every page string in one language (public: words only)",
            "security": [], "parameters": [q("lang", "string", "zh-CN or en")],
            "responses": {"200": ok("strings", any())}}},
        "/kiosk/state": {"get": {"summary": "the bench's kiosk snapshot (loopback peers without a session, others logged in)",
            "parameters": [q("bench", "string", "bench name"), q("lang", "string", "zh-CN or en")],
            "responses": {"200": ok("snapshot", any()), "401": err("not loopback and not logged in")}}},
    })
}

#[cfg(test)]
mod tests {
    use super::super::api::{PREFIX, ROUTES};
    use super::*;

    /// Every route of the table is documented with its method, and the document names no
    /// route or method the table does not have.
    #[test]
    fn document_matches_the_route_table() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        for r in ROUTES {
            let m = r.method.to_ascii_lowercase();
            assert!(
                paths.get(r.path).and_then(|p| p.get(&m)).is_some(),
                "{} {PREFIX}{} is not documented",
                r.method,
                r.path
            );
        }
        let kiosk = super::super::kiosk::API_ROUTES;
        for (method, full) in kiosk {
            let path = full.trim_start_matches(PREFIX);
            assert!(
                paths
                    .get(path)
                    .and_then(|p| p.get(method.to_ascii_lowercase()))
                    .is_some(),
                "{method} {full} is not documented"
            );
        }
        for (path, ops) in paths {
            for m in ops.as_object().unwrap().keys() {
                assert!(
                    ROUTES
                        .iter()
                        .any(|r| r.path == path && r.method.eq_ignore_ascii_case(m))
                        || kiosk.iter().any(|(km, kp)| {
                            kp.trim_start_matches(PREFIX) == path && km.eq_ignore_ascii_case(m)
                        }),
                    "documented {m} {path} is not a route"
                );
            }
        }
        assert_eq!(doc["openapi"], "3.0.3");
    }

    /// Each route's path parameters (`{id}`, `{bin}`, `{note}`, …) are documented as path
    /// parameters of that operation, and a role-restricted route's summary names exactly
    /// the roles the table allows.
    #[test]
    fn path_parameters_and_roles_match_the_table() {
        use super::super::api::Access;
        let doc = document();
        let re = regex::Regex::new(r"\{([a-z]+)\}").unwrap();
        for r in ROUTES {
            let op = &doc["paths"][r.path][r.method.to_ascii_lowercase()];
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            for c in re.captures_iter(r.path) {
                let name = &c[1];
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true),
                    "{} {}: path parameter {name} is not documented",
                    r.method,
                    r.path
                );
            }
            if let Access::Roles(roles) = r.access {
                let names: Vec<&str> = roles.iter().map(|x| x.as_str()).collect();
                let want = format!("(roles: {})", names.join(", "));
                let summary = op["summary"].as_str().unwrap_or("");
                assert!(
                    summary.ends_with(&want),
                    "{} {}: summary {summary:?} does not end with {want:?}",
                    r.method,
                    r.path
                );
            }
        }
    }
}
