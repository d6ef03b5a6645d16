//! The citizen's side (specs/citizen.md, specs/openapi-citizen.yaml) through the real
//! binary: the citizen web page on the citizen listener in headless Chromium, signed in
//! with a citizen's token, showing records from two care givers' sources; a block the
//! citizen places in the page withholding that care giver's records from care staff's
//! aggregated queries; the demo's sign-in; and the page's and the API's guards.
//!
//! The browser tests skip (printing `SKIP:`) without chromium and chromedriver, except
//! under `CI=true`, where they fail (`harness/browser.rs`). They leave screenshots in
//! `<target>/test-artifacts/citizen.png` and `citizen-demo.png` (and
//! `citizen-demo-phone.png`).

use serde_json::{json, Value};

use crate::harness::*;

/// What the tests read from the page in one call. The ids and data-* attributes are
/// the page's (gateway/vaxel/src/citizen/page/citizen.html and citizen.js).
const STATE: &str = "
    const $ = (id) => document.getElementById(id);
    const rows = (sel, f) => [...document.querySelectorAll(sel)].map(f);
    return {
        state: document.body.dataset.state,
        renderError: document.body.dataset.renderError || null,
        demo: !$('demo-panel').hidden,
        me: { patient: $('me').dataset.patient, actingAs: $('me').dataset.actingAs, text: $('me').textContent },
        banner: $('banner').hidden ? null : $('banner-title').textContent + ' ' + $('banner-text').textContent,
        views: {
            overview: $('view-overview').dataset.loaded,
            consents: $('view-consents').dataset.loaded,
            log: $('view-access-log').dataset.loaded,
        },
        count: $('count-items').textContent,
        items: rows('#items li.item', (li) => ({
            kind: li.dataset.kind, careGiver: li.dataset.careGiver, source: li.dataset.logicalAddress,
            recordId: li.dataset.recordId, upcoming: li.dataset.upcoming,
        })),
        sources: rows('#sources > li', (li) => ({ address: li.dataset.logicalAddress, status: li.dataset.status })),
        problems: rows('#source-problem-list li', (li) => li.textContent),
        withheld: $('withheld').hidden ? null : $('withheld').textContent,
        consents: rows('#consents tr[data-id]', (tr) => ({
            careGiver: tr.dataset.careGiver, state: tr.querySelector('.state').textContent,
        })),
        blocks: rows('#blocks tr[data-id]', (tr) => ({
            careGiver: tr.dataset.careGiver, liftRequested: tr.dataset.liftRequested,
            state: tr.querySelector('.state').textContent,
        })),
        fieldErrors: rows('.field-error:not([hidden])', (p) => [p.id, p.textContent]),
        invalid: rows('[aria-invalid=true]', (e) => e.id),
        record: {
            open: $('record').open, state: $('record').dataset.state || null,
            rows: $('record-body').querySelectorAll('dt').length, raw: $('record-raw').textContent,
        },
        confirm: $('confirm').open,
        logPage: $('view-access-log').dataset.page || null,
        logNext: !$('log-next').disabled,
        log: rows('#access-log tr', (tr) => ({
            emergency: tr.dataset.emergency, decision: tr.dataset.decision, text: tr.textContent,
        })),
        token: sessionStorage.getItem('vaxel.citizen.token'),
    };";

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x[key].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// How many of `items` (page or API shape) have `care_giver` under `key`.
fn count_by(items: &Value, key: &str, care_giver: &str) -> usize {
    strings(items, key)
        .iter()
        .filter(|c| c.as_str() == care_giver)
        .count()
}

/// Clicks a tab, as a user would after scrolling back up to the tabs (a click on a link
/// the sticky header covers would land on the header).
async fn open_tab(page: &Session, tab: &str) {
    page.exec("window.scrollTo(0, 0); return null;").await;
    page.click(tab).await;
}

/// The page must never have thrown while rendering.
fn no_render_error(s: &Value) {
    assert!(
        s["renderError"].is_null(),
        "the page's render threw: {}",
        s["renderError"]
    );
}

/// (a) + (c): the page over a real gateway with two care givers' sources.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citizen_page_shows_both_care_givers_and_a_block_placed_there_withholds_their_records_from_care_staff(
) {
    let Some(browser) = browser_tools() else {
        return;
    };
    let cg = CitizenGateway::start(PATIENT).await;
    let [(own_src, own_cg, own_unit), (other_src, other_cg, _)] = CITIZEN_SOURCES;

    // Care staff first: the user's own care giver's records only; the other care
    // giver's need a consent (PDL 6:3). An emergency read of them is logged flagged.
    let doctor = cg.staff.staff_token(own_cg, own_unit, None);
    let r = cg.staff_query(PATIENT, &doctor).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(care_doc_sources(&r), [own_src, own_src], "{}", r.describe());
    assert_eq!(r.header("x-vaxel-withheld-records"), Some("2"));
    let emergency = cg
        .staff
        .staff_token(own_cg, own_unit, Some("unconscious patient in the ER"));
    let r = cg.staff_query(PATIENT, &emergency).await;
    assert_eq!(
        care_doc_sources(&r),
        [own_src, own_src, other_src, other_src],
        "{}",
        r.describe()
    );

    // The API's own answer, to compare the page with.
    let token = cg.citizens.citizen_token(PATIENT);
    let (status, _, body) = cg.citizen_get("/citizen/v1/overview", Some(&token)).await;
    assert_eq!(status, 200, "{body}\n{}", cg.gw.logs());
    let overview: Value = serde_json::from_str(&body).expect("the overview is JSON");
    let api_items = &overview["items"];
    let n = api_items.as_array().expect("items").len();
    for care_giver in [own_cg, other_cg] {
        assert!(
            count_by(api_items, "care_giver", care_giver) > 0,
            "the API's overview has items of {care_giver}: {overview}"
        );
    }
    assert!(
        overview["sources"]
            .as_array()
            .expect("sources")
            .iter()
            .all(|s| s["status"] == "ok"),
        "every source answered: {}",
        overview["sources"]
    );

    // Chromium cannot verify the citizen listener's certificate: it is the test PKI's
    // gateway certificate (issued by the CA `vaxel certs` made for this test process),
    // and the browser's own trust store does not hold that CA. `acceptInsecureCerts`
    // makes the browser accept it for this session only; the connection is still TLS,
    // and the reqwest calls above verify the same certificate against the test CA.
    let driver = ChromeDriver::start();
    let options = BrowserOptions {
        accept_insecure_certs: true,
        ..BrowserOptions::default()
    };
    let page = Session::start_with(&driver, &browser, options).await;
    page.navigate(&cg.citizen_url("/citizen/")).await;
    let s = page
        .eventually("the sign-in form", STATE, |s| {
            (s["state"] == "signed-out").then(|| s.clone())
        })
        .await;
    assert_eq!(
        s["demo"], false,
        "no demo sign-in outside `serve --demo` (/citizen/demo/token is 404): {s}"
    );

    // Sign in by pasting the token.
    page.type_into("#token-input", &token).await;
    page.click("#token-form button[type=submit]").await;
    let s = page
        .eventually("the overview", STATE, |s| {
            (s["views"]["overview"] == "true").then(|| s.clone())
        })
        .await;
    no_render_error(&s);
    assert_eq!(s["me"]["patient"], PATIENT, "{s}");
    assert_eq!(s["me"]["actingAs"], "self", "{s}");
    assert!(
        s["me"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("19121212-1212")),
        "who is signed in, as a personal number is written: {}",
        s["me"]
    );
    assert_eq!(
        s["token"].as_str(),
        Some(token.as_str()),
        "the token is kept in sessionStorage"
    );
    // The page shows what the API says: every item, from both care givers.
    let items = &s["items"];
    assert_eq!(
        items.as_array().map(Vec::len),
        Some(n),
        "the page lists every item of the overview: {s}"
    );
    assert_eq!(s["count"], n.to_string());
    for care_giver in [own_cg, other_cg] {
        assert_eq!(
            count_by(items, "careGiver", care_giver),
            count_by(api_items, "care_giver", care_giver),
            "items of {care_giver} on the page: {s}"
        );
    }
    let sources = &s["sources"];
    for source in [own_src, other_src] {
        assert!(
            sources
                .as_array()
                .expect("sources")
                .contains(&json!({"address": source, "status": "ok"})),
            "{source} is listed as answered: {sources}"
        );
    }
    assert_eq!(s["problems"], json!([]), "no source failed: {s}");

    // One full record, from the item's link, in the detail view.
    let first = s["items"][0].clone();
    page.click("#items li.item button.open").await;
    let record = page
        .eventually("the record", STATE, |s| {
            (s["record"]["state"] != "loading" && s["record"]["state"] != Value::Null)
                .then(|| s["record"].clone())
        })
        .await;
    assert_eq!(record["state"], "ready", "{record}");
    assert!(record["rows"].as_u64().is_some_and(|n| n > 0), "{record}");
    let id = first["recordId"].as_str().expect("the item's record id");
    assert!(
        record["raw"].as_str().is_some_and(|x| x.contains(id)),
        "the record shown is the item's ({id}): {record}"
    );
    page.click("#record-close").await;

    // My consents and blocks. A field the gateway refuses is marked next to the field.
    open_tab(&page, "#tab-consents").await;
    page.eventually("the consents view", STATE, |s| {
        (s["views"]["consents"] == "true").then_some(())
    })
    .await;
    page.type_into("#block-care-giver", "not an HSA id").await;
    page.click("#block-form button[type=submit]").await;
    let s = page
        .eventually("the field error", STATE, |s| {
            (!s["fieldErrors"].as_array()?.is_empty()).then(|| s.clone())
        })
        .await;
    let errors = s["fieldErrors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{s}");
    assert_eq!(errors[0][0], "block-care-giver-error", "{s}");
    assert!(
        errors[0][1].as_str().is_some_and(|t| t.contains("HSA id")),
        "{s}"
    );
    assert_eq!(s["invalid"], json!(["block-care-giver"]), "{s}");
    assert_eq!(s["blocks"], json!([]), "nothing stored: {s}");

    // A consent for the user's own care giver: the other care giver's records are
    // shown to its staff from now on.
    page.type_into("#consent-care-giver", own_cg).await;
    page.click("#consent-form button[type=submit]").await;
    page.eventually("the consent in the list", STATE, |s| {
        (s["consents"] == json!([{"careGiver": own_cg, "state": "Active"}])).then_some(())
    })
    .await;
    let r = cg.staff_query(PATIENT, &doctor).await;
    assert_eq!(
        care_doc_sources(&r),
        [own_src, own_src, other_src, other_src],
        "with the consent: {}",
        r.describe()
    );
    assert_eq!(r.header("x-vaxel-withheld-records"), Some("0"));

    // The block on the other care giver, placed in the page's form: its records are
    // withheld from the staff's very next query, consent or not.
    page.type_into("#block-care-giver", other_cg).await;
    page.click("#block-form button[type=submit]").await;
    let s = page
        .eventually("the block in the list", STATE, |s| {
            (strings(&s["blocks"], "careGiver") == [other_cg]).then(|| s.clone())
        })
        .await;
    assert_eq!(s["blocks"][0]["state"], "Active", "{s}");
    assert_eq!(s["fieldErrors"], json!([]), "the old error is gone: {s}");
    assert_eq!(s["invalid"], json!([]), "{s}");
    let r = cg.staff_query(PATIENT, &doctor).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(
        care_doc_sources(&r),
        [own_src, own_src],
        "with the block: {}",
        r.describe()
    );
    assert_eq!(r.header("x-vaxel-withheld-records"), Some("2"));
    assert!(
        !r.text()
            .contains(&format!("{other_src}-care-documentation")),
        "no content of the blocked care giver's records: {}",
        r.describe()
    );

    // Asking for the block to be lifted records the request; the block stays.
    page.click(&format!(
        "#blocks tr[data-care-giver=\"{other_cg}\"] button"
    ))
    .await;
    page.eventually("the confirmation", STATE, |s| {
        (s["confirm"] == true).then_some(())
    })
    .await;
    page.click("#confirm-ok").await;
    let s = page
        .eventually("the lift request", STATE, |s| {
            (s["blocks"][0]["liftRequested"] == "true").then(|| s.clone())
        })
        .await;
    assert!(
        s["blocks"][0]["state"]
            .as_str()
            .is_some_and(|t| t.starts_with("Lift requested")),
        "{s}"
    );
    let r = cg.staff_query(PATIENT, &doctor).await;
    assert_eq!(
        care_doc_sources(&r),
        [own_src, own_src],
        "still blocked: {}",
        r.describe()
    );

    // Who has read my records: the staff's reads (denied ones too) and the citizen's
    // own, newest first; the emergency read, the oldest, is some pages back: paged
    // with "Older" until it shows, flagged.
    open_tab(&page, "#tab-access-log").await;
    let mut s = page
        .eventually("the access log", STATE, |s| {
            (s["views"]["log"] == "true").then(|| s.clone())
        })
        .await;
    assert_eq!(s["logPage"], "1", "{s}");
    let log = s["log"].as_array().expect("log rows");
    assert!(
        log.iter().any(|row| row["decision"] == "denied"),
        "denied reads are listed too: {s}"
    );
    assert!(
        log.iter().any(|row| row["text"]
            .as_str()
            .is_some_and(|t| t.contains(own_cg) && t.contains("blocked"))),
        "the read the block refused, by {own_cg}'s staff: {s}"
    );
    let emergency = loop {
        let rows = s["log"].as_array().expect("log rows").clone();
        if let Some(row) = rows.iter().find(|row| row["emergency"] == "true") {
            break row.clone();
        }
        assert_eq!(s["logNext"], true, "no emergency access on any page: {s}");
        let page_no = s["logPage"].as_str().unwrap_or("").to_string();
        page.click("#log-next").await;
        s = page
            .eventually("the next page of the log", STATE, |s| {
                (s["views"]["log"] == "true" && s["logPage"] != page_no.as_str()).then(|| s.clone())
            })
            .await;
    };
    assert!(
        emergency["text"]
            .as_str()
            .is_some_and(|t| t.contains(own_cg) && t.contains("Emergency access")),
        "the emergency access by {own_cg}'s staff, flagged: {emergency}"
    );
    no_render_error(&s);

    // (c) Everything the page loaded came from the citizen listener, and its style
    // sheet applied under the page's CSP (no inline styles: a blocked sheet would leave
    // the header unstyled).
    assert_eq!(
        page.exec(EXTERNAL_RESOURCES).await,
        json!([]),
        "the page loads external resources"
    );
    let styled = page
        .exec("return getComputedStyle(document.querySelector('header.top')).position;")
        .await;
    assert_eq!(styled, "sticky", "citizen.css applied");

    open_tab(&page, "#tab-overview").await;
    page.exec(
        "document.getElementById('banner').hidden = true; window.scrollTo(0, 0); return null;",
    )
    .await;
    page.screenshot_to("citizen.png").await;

    // Sign out forgets the token.
    page.click("#sign-out").await;
    let s = page
        .eventually("signed out", STATE, |s| {
            (s["state"] == "signed-out").then(|| s.clone())
        })
        .await;
    assert_eq!(s["token"], Value::Null, "{s}");
    assert_eq!(
        s["items"],
        json!([]),
        "nothing of the patient's is left: {s}"
    );
}

/// (c) The page's guards and the API's: a strict CSP on the page, no inline script or
/// style in it, and no answer without a valid citizen token (401, WWW-Authenticate),
/// nor with a care staff's token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citizen_page_is_locked_down_and_the_api_refuses_without_a_citizen_token() {
    let cg = CitizenGateway::start(PATIENT).await;
    let (status, headers, html) = cg.citizen_get("/citizen/", None).await;
    assert_eq!(status, 200, "{html}");
    let csp = headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .expect("a Content-Security-Policy");
    for rule in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
    ] {
        assert!(csp.contains(rule), "{rule} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    // What the CSP would refuse is not there to refuse (outside comments).
    let mut lower = html.to_ascii_lowercase();
    while let Some(start) = lower.find("<!--") {
        let end = lower[start..]
            .find("-->")
            .map_or(lower.len(), |e| start + e + 3);
        lower.replace_range(start..end, "");
    }
    assert!(!lower.contains("<script>"), "an inline script");
    assert!(!lower.contains("<style"), "an inline style sheet");
    assert!(!lower.contains(" style="), "a style attribute");
    assert!(
        !lower.contains(" onclick=") && !lower.contains(" onload="),
        "an inline handler"
    );
    for (path, content_type) in [
        ("/citizen/citizen.css", "text/css"),
        ("/citizen/citizen.js", "text/javascript"),
    ] {
        let (status, headers, _) = cg.citizen_get(path, None).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            headers["content-type"]
                .to_str()
                .is_ok_and(|t| t.starts_with(content_type)),
            "{path}: {:?}",
            headers["content-type"]
        );
    }
    let (status, _, _) = cg.citizen_get("/citizen/demo/token", None).await;
    assert_eq!(status, 404, "no demo sign-in outside the demo");

    for path in [
        "/citizen/v1/me",
        "/citizen/v1/overview",
        "/citizen/v1/consents",
        "/citizen/v1/access-log",
    ] {
        let (status, headers, body) = cg.citizen_get(path, None).await;
        assert_eq!(status, 401, "{path} without a token: {body}");
        assert!(
            headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("Bearer")),
            "{path}: {headers:?}"
        );
        let v: Value = serde_json::from_str(&body).expect("a JSON error");
        assert!(v["error"].is_string(), "{path}: {body}");
        // A care staff member's token (an HSA id in `sub`, another issuer) is no citizen.
        let staff = cg
            .staff
            .staff_token(CITIZEN_SOURCES[0].1, CITIZEN_SOURCES[0].2, None);
        let (status, _, body) = cg.citizen_get(path, Some(&staff)).await;
        assert_eq!(status, 401, "{path} with a staff token: {body}");
    }
    let token = cg.citizens.citizen_token(PATIENT);
    let (status, _, body) = cg.citizen_get("/citizen/v1/me", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let me: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(me["patient"], PATIENT, "{me}");
    assert_eq!(me["acting_as"], "self", "{me}");
}

/// (b) `vaxel serve --demo`: the citizen listener's page, "Sign in (demo)", the demo
/// patient's records from both demo journal sources, every kind among them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citizen_page_in_the_demo_signs_in_and_shows_both_demo_sources() {
    let Some(browser) = browser_tools() else {
        return;
    };
    let demo = ServeDemo::start();
    let (status, body) = demo.citizen_get("/citizen/demo/token", None).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("JSON");
    assert!(v["token"].is_string() && v["expires_in"].is_u64(), "{v}");

    let driver = ChromeDriver::start();
    // The demo's citizen listener has the demo PKI's certificate, whose CA the browser
    // does not trust (see the test above).
    let options = BrowserOptions {
        accept_insecure_certs: true,
        ..BrowserOptions::default()
    };
    let page = Session::start_with(&driver, &browser, options).await;
    page.navigate(&demo.citizen_url("/citizen/")).await;
    page.eventually("the demo sign-in", STATE, |s| {
        (s["demo"] == true).then_some(())
    })
    .await;
    page.click("#demo-signin").await;
    let s = page
        .eventually("the overview", STATE, |s| {
            (s["views"]["overview"] == "true").then(|| s.clone())
        })
        .await;
    no_render_error(&s);
    assert_eq!(s["me"]["patient"], vaxel_routing::DEMO_PATIENT, "{s}");
    let items = &s["items"];
    for (source, care_giver, _) in vaxel_routing::DEMO_JOURNAL_SOURCES {
        assert!(
            count_by(items, "careGiver", care_giver) > 0,
            "records of {care_giver} ({source}) are shown: {s}"
        );
    }
    let kinds = strings(items, "kind");
    for kind in ["booking", "care-plan", "vaccination", "note", "lab-result"] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "a {kind} among the demo's items: {kinds:?}"
        );
    }
    assert_eq!(s["problems"], json!([]), "every demo source answered: {s}");
    page.screenshot_to("citizen-demo.png").await;

    // On a phone's width the page fits: nothing wider than the screen.
    page.resize(420, 900).await;
    let overflow = page
        .exec("return document.documentElement.scrollWidth - window.innerWidth;")
        .await;
    assert!(
        overflow.as_i64().is_some_and(|o| o <= 0),
        "the page is {overflow} px wider than a phone's screen"
    );
    page.screenshot_to("citizen-demo-phone.png").await;
}
