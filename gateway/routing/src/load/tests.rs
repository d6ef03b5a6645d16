use super::*;

const PING: &str = "urn:riv:itintegration:monitoring:PingForConfigurationResponder:1";

fn problems(result: Result<RoutingTable, RoutingTableError>) -> Vec<(String, String)> {
    match result {
        Err(RoutingTableError::Invalid { origin, problems }) => {
            assert_eq!(origin, "test.toml");
            problems.into_iter().map(|p| (p.entry, p.problem)).collect()
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn single_problem(text: &str) -> (String, String) {
    single_problem_of(parse_toml(text).unwrap_err())
}

fn single_problem_of(err: RoutingTableError) -> (String, String) {
    let mut found = problems(Err(err));
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

fn table_with(route: &str, authz: &str) -> String {
    format!(
        r#"
[[contracts]]
namespace = "{PING}"

[[routes]]
contract = "{PING}"
{route}

[[authorizations]]
contract = "{PING}"
{authz}
"#
    )
}

const GOOD_ROUTE: &str = r#"logical_address = "A"
rivta_profile = "RIVTABP21"
url = "https://p.example/ping""#;
const GOOD_AUTHZ: &str = r#"consumer = "C"
logical_address = "*""#;

#[test]
fn json_and_toml_give_the_same_table() {
    let toml_text = r#"
[[contracts]]
namespace = "urn:riv:x:FooResponder:1"
name = "Foo"
response_timeout_ms = 5000

[[routes]]
contract = "urn:riv:x:FooResponder:1"
logical_address = "SE1"
rivta_profile = "RIVTABP21"
url = "https://p.example:8443/foo"
from = "2024-01-01"
to = 2024-12-31

[[authorizations]]
consumer = "C1"
contract = "urn:riv:x:FooResponder:1"
logical_address = "*"

[[hsa_tree]]
id = "SE1"
parent = "SE"
"#;
    let json_text = r#"{
  "contracts": [{"namespace": "urn:riv:x:FooResponder:1", "name": "Foo", "response_timeout_ms": 5000}],
  "routes": [{"contract": "urn:riv:x:FooResponder:1", "logical_address": "SE1", "rivta_profile": "RIVTABP21",
              "url": "https://p.example:8443/foo", "from": "2024-01-01", "to": "2024-12-31"}],
  "authorizations": [{"consumer": "C1", "contract": "urn:riv:x:FooResponder:1", "logical_address": "*"}],
  "hsa_tree": [{"id": "SE1", "parent": "SE"}]
}"#;
    let from_toml = parse_toml(toml_text).unwrap();
    let from_json = RoutingTable::from_str(json_text, TableFormat::Json, "t.json").unwrap();
    for table in [&from_toml, &from_json] {
        let counts = table.counts();
        assert_eq!(
            counts,
            TableCounts {
                contracts: 1,
                routes: 1,
                authorizations: 1,
                hsa_nodes: 1
            }
        );
        let contract = table.contract("URN:RIV:X:FOORESPONDER:1").unwrap();
        assert_eq!(contract.name(), Some("Foo"));
        assert_eq!(contract.response_timeout(), Duration::from_millis(5000));
        let route = table.routes().next().unwrap();
        assert_eq!(route.url(), "https://p.example:8443/foo");
        assert_eq!(
            route.validity().to_string(),
            "from 2024-01-01 to 2024-12-31"
        );
        assert_eq!(route.response_timeout(), Duration::from_millis(5000));
        assert_eq!(table.hsa_parent("se1"), Some("SE"));
    }
    assert_eq!(from_toml.origin(), "test.toml");
    assert_eq!(from_json.origin(), "t.json");
}

/// The examples in specs/routing-table.md load and describe the same table.
#[test]
fn spec_examples_load() {
    let spec_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../specs/routing-table.md");
    let spec = std::fs::read_to_string(&spec_path).unwrap();
    let block = |fence: &str| {
        let start = spec.rfind(fence).unwrap() + fence.len();
        let len = spec[start..].find("```").unwrap();
        spec[start..start + len].to_owned()
    };
    let from_toml = parse_toml(&block("```toml\n")).unwrap();
    let from_json =
        RoutingTable::from_str(&block("```json\n"), TableFormat::Json, "spec.json").unwrap();
    let day = NaiveDate::from_ymd_opt(2025, 5, 1).unwrap();
    let contract = "urn:riv:clinicalprocess:healthcond:description:GetCareDocumentationResponder:2";
    for table in [&from_toml, &from_json] {
        assert_eq!(
            table.counts(),
            TableCounts {
                contracts: 1,
                routes: 1,
                authorizations: 1,
                hsa_nodes: 2
            }
        );
        let route = table
            .route(contract, "SE2321000016-ABCD-UNIT1", day)
            .unwrap();
        assert_eq!(route.logical_address(), "SE2321000016-ABCD");
        assert_eq!(route.response_timeout(), Duration::from_secs(20));
        assert_eq!(
            table.authorize("SE5565594230-B9K", contract, "SE2321000016-ABCD-UNIT1", day),
            Ok(())
        );
    }
}

#[test]
fn contract_timeout_defaults_to_29_seconds() {
    let table = parse_toml(&table_with(GOOD_ROUTE, GOOD_AUTHZ)).unwrap();
    assert_eq!(
        table.contract(PING).unwrap().response_timeout(),
        Duration::from_secs(29)
    );
    assert_eq!(table.contract(PING).unwrap().name(), None);
}

#[test]
fn a_deep_hsa_chain_loads_in_linear_time_and_a_deep_cycle_is_found() {
    // Found by reading the fuzz target's code: the cycle check once walked every
    // chain from scratch (cubic); a 4000-deep chain took ~50 s to load.
    let depth = 20_000;
    let mut text = table_with(GOOD_ROUTE, GOOD_AUTHZ);
    for i in 0..depth {
        let parent = if i == 0 {
            "SE".to_string()
        } else {
            format!("N{}", i - 1)
        };
        text.push_str(&format!(
            "[[hsa_tree]]\nid = \"N{i}\"\nparent = \"{parent}\"\n"
        ));
    }
    let started = std::time::Instant::now();
    let table = parse_toml(&text).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        table.hsa_parent(&format!("N{}", depth - 1)),
        Some(format!("N{}", depth - 2).as_str())
    );

    // Close the chain into a loop far from its start: N0's parent becomes the last id.
    let looped = text.replacen(
        "id = \"N0\"\nparent = \"SE\"",
        &format!("id = \"N0\"\nparent = \"N{}\"", depth - 1),
        1,
    );
    let found = problems(parse_toml(&looped));
    assert!(
        found.iter().any(|(_, p)| p.contains("never reaches 'SE'")),
        "{:?}",
        &found[..found.len().min(3)]
    );
}

#[test]
fn contract_body_limit_reaches_its_routes() {
    let text = table_with(GOOD_ROUTE, GOOD_AUTHZ).replacen(
        &format!("namespace = \"{PING}\""),
        &format!("namespace = \"{PING}\"\nmax_body_bytes = 4096"),
        1,
    );
    let table = parse_toml(&text).unwrap();
    assert_eq!(table.contract(PING).unwrap().max_body_bytes(), Some(4096));
    let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    assert_eq!(
        table.route(PING, "A", day).unwrap().max_body_bytes(),
        Some(4096)
    );
    assert_eq!(
        parse_toml(&table_with(GOOD_ROUTE, GOOD_AUTHZ))
            .unwrap()
            .route(PING, "A", day)
            .unwrap()
            .max_body_bytes(),
        None
    );
}

#[test]
fn contract_body_limit_out_of_range_is_rejected() {
    let text = table_with(GOOD_ROUTE, GOOD_AUTHZ).replacen(
        &format!("namespace = \"{PING}\""),
        &format!("namespace = \"{PING}\"\nmax_body_bytes = 10"),
        1,
    );
    let found = problems(parse_toml(&text));
    assert!(
        found
            .iter()
            .any(|(entry, problem)| entry == "contracts[0].max_body_bytes"
                && problem.contains("between 1024")),
        "{found:?}"
    );
}

#[test]
fn route_naming_an_unknown_contract_is_rejected() {
    let text = table_with(GOOD_ROUTE, GOOD_AUTHZ).replacen(
        &format!("[[routes]]\ncontract = \"{PING}\""),
        "[[routes]]\ncontract = \"urn:riv:x:NopeResponder:1\"",
        1,
    );
    assert_eq!(
        single_problem(&text),
        (
            "routes[0].contract".to_owned(),
            "service contract 'urn:riv:x:NopeResponder:1' is not listed in `contracts`; add it there or correct the namespace".to_owned()
        )
    );
}

#[test]
fn authorization_naming_an_unknown_contract_is_rejected() {
    let text = table_with(GOOD_ROUTE, GOOD_AUTHZ).replacen(
        &format!("[[authorizations]]\ncontract = \"{PING}\""),
        "[[authorizations]]\ncontract = \"urn:riv:x:NopeResponder:1\"",
        1,
    );
    let (entry, problem) = single_problem(&text);
    assert_eq!(entry, "authorizations[0].contract");
    assert!(
        problem.contains("'urn:riv:x:NopeResponder:1' is not listed"),
        "{problem}"
    );
}

#[test]
fn from_after_to_is_rejected() {
    let route = format!("{GOOD_ROUTE}\nfrom = \"2025-02-01\"\nto = \"2025-01-31\"");
    assert_eq!(
        single_problem(&table_with(&route, GOOD_AUTHZ)),
        (
            "routes[0].to".to_owned(),
            "'to' (2025-01-31) is before 'from' (2025-02-01), so the rule would never apply; correct or swap the dates".to_owned()
        )
    );
    let authz = format!("{GOOD_AUTHZ}\nfrom = 2025-02-01\nto = 2025-01-31");
    assert_eq!(
        single_problem(&table_with(GOOD_ROUTE, &authz)).0,
        "authorizations[0].to"
    );
}

#[test]
fn bad_dates_are_rejected() {
    let cases = [
        (
            "from = \"2025-13-01\"",
            "routes[0].from",
            "'2025-13-01' is not a calendar date",
        ),
        (
            "from = \"2025-1-5\"",
            "routes[0].from",
            "'2025-1-5' is not a date",
        ),
        (
            "to = \"31/12/2025\"",
            "routes[0].to",
            "'31/12/2025' is not a date",
        ),
        (
            "to = 2025-12-31T10:00:00",
            "routes[0].to",
            "has a time of day",
        ),
    ];
    for (line, entry, problem) in cases {
        let (got_entry, got_problem) =
            single_problem(&table_with(&format!("{GOOD_ROUTE}\n{line}"), GOOD_AUTHZ));
        assert_eq!(got_entry, entry);
        assert!(got_problem.contains(problem), "{got_problem}");
        assert!(got_problem.contains("YYYY-MM-DD"), "{got_problem}");
    }
    // A number is a type error, reported by the parser with its position.
    let err = parse_toml(&table_with(
        &format!("{GOOD_ROUTE}\nfrom = 20250101"),
        GOOD_AUTHZ,
    ))
    .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, RoutingTableError::Syntax { .. }));
    assert!(
        message.contains("expected a date written as \"YYYY-MM-DD\""),
        "{message}"
    );
    assert!(message.contains("line 10, column 8"), "{message}");
}

#[test]
fn bad_urls_are_rejected() {
    let cases = [
        ("ftp://p.example/x", "uses the scheme 'ftp'"),
        ("p.example/x", "has no scheme"),
        ("https:///x", "not a valid URL"),
        ("https://user:pw@p.example/x", "contains user credentials"),
        ("https://p.example/a b", "not a valid URL"),
    ];
    for (url, problem) in cases {
        let route = GOOD_ROUTE.replace("https://p.example/ping", url);
        let (entry, got) = single_problem(&table_with(&route, GOOD_AUTHZ));
        assert_eq!(entry, "routes[0].url");
        assert!(got.contains(problem), "{url}: {got}");
    }
    let http = GOOD_ROUTE.replace("https://", "http://");
    assert!(parse_toml(&table_with(&http, GOOD_AUTHZ)).is_ok());
}

#[test]
fn local_service_urls_name_a_gateway_service() {
    const SERVICES: [&str; 2] = ["engagement-index", "aggregating"];
    let for_gateway = |text: &str| {
        RoutingTable::from_str_for(text, TableFormat::Toml, "test.toml", &[], Some(&SERVICES))
    };
    for name in SERVICES {
        let route = GOOD_ROUTE.replace("https://p.example/ping", &format!("local://{name}"));
        let table = for_gateway(&table_with(&route, GOOD_AUTHZ)).unwrap();
        let rule = table.routes().next().unwrap();
        assert_eq!(rule.local_service().map(LocalService::name), Some(name));
    }
    // Without a list of services (offline checks), any well-formed name is taken.
    let other = GOOD_ROUTE.replace("https://p.example/ping", "local://sdk-outbox");
    let table = parse_toml(&table_with(&other, GOOD_AUTHZ)).unwrap();
    assert_eq!(
        table
            .routes()
            .next()
            .unwrap()
            .local_service()
            .map(LocalService::name),
        Some("sdk-outbox")
    );
    for url in ["local://Not_A_Name", "local://x/y", "local://x:80"] {
        let route = GOOD_ROUTE.replace("https://p.example/ping", url);
        let (entry, got) = single_problem(&table_with(&route, GOOD_AUTHZ));
        assert_eq!(entry, "routes[0].url");
        assert!(got.contains("local://<service>"), "{url}: {got}");
    }
    let producer = parse_toml(&table_with(GOOD_ROUTE, GOOD_AUTHZ)).unwrap();
    assert_eq!(producer.routes().next().unwrap().local_service(), None);
    for url in [
        "local://nothing-here",
        "local://aggregating/x",
        "local://aggregating:80",
    ] {
        let route = GOOD_ROUTE.replace("https://p.example/ping", url);
        let err = for_gateway(&table_with(&route, GOOD_AUTHZ)).unwrap_err();
        let (entry, got) = single_problem_of(err);
        assert_eq!(entry, "routes[0].url");
        assert!(
            got.contains("local://engagement-index, local://aggregating"),
            "{url}: {got}"
        );
    }
}

#[test]
fn empty_keys_and_wildcard_consumer_are_rejected() {
    let route = GOOD_ROUTE.replace("logical_address = \"A\"", "logical_address = \"\"");
    assert_eq!(
        single_problem(&table_with(&route, GOOD_AUTHZ)),
        (
            "routes[0].logical_address".to_owned(),
            "the logical address is empty; write the logical address".to_owned()
        )
    );
    let authz = GOOD_AUTHZ.replace("consumer = \"C\"", "consumer = \"\"");
    assert_eq!(
        single_problem(&table_with(GOOD_ROUTE, &authz)),
        (
            "authorizations[0].consumer".to_owned(),
            "the consumer HSA id is empty; write the consumer HSA id".to_owned()
        )
    );
    let authz = GOOD_AUTHZ.replace("consumer = \"C\"", "consumer = \"*\"");
    assert_eq!(
        single_problem(&table_with(GOOD_ROUTE, &authz)).0,
        "authorizations[0].consumer"
    );
    let authz = GOOD_AUTHZ.replace("consumer = \"C\"", "consumer = \" C\"");
    let (entry, problem) = single_problem(&table_with(GOOD_ROUTE, &authz));
    assert_eq!(entry, "authorizations[0].consumer");
    assert!(
        problem.contains("leading or trailing whitespace"),
        "{problem}"
    );
}

#[test]
fn every_problem_is_reported_with_the_file_name() {
    let route =
        "logical_address = \"\"\nrivta_profile = \"RIVTABP21\"\nurl = \"nope\"\nfrom = \"x\"";
    let authz = "consumer = \"\"\nlogical_address = \"\"";
    let err = parse_toml(&table_with(route, authz)).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(
            "routing table test.toml is invalid (5 problems): routes[0].logical_address: "
        ),
        "{message}"
    );
    let entries: Vec<_> = problems(Err(err)).into_iter().map(|(e, _)| e).collect();
    assert_eq!(
        entries,
        [
            "routes[0].logical_address",
            "routes[0].url",
            "routes[0].from",
            "authorizations[0].consumer",
            "authorizations[0].logical_address"
        ]
    );
}

#[test]
fn contract_problems_are_rejected_without_cascading() {
    let text = format!(
        r#"
[[contracts]]
namespace = "{PING}"
response_timeout_ms = 0

[[contracts]]
namespace = ""

[[routes]]
contract = "{PING}"
{GOOD_ROUTE}

[[authorizations]]
contract = "{PING}"
{GOOD_AUTHZ}
"#
    );
    let found = problems(parse_toml(&text));
    let entries: Vec<_> = found.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        entries,
        ["contracts[0].response_timeout_ms", "contracts[1].namespace"]
    );
    assert!(
        found[0].1.starts_with("0 is out of range"),
        "{}",
        found[0].1
    );
}

#[test]
fn identical_duplicates_are_fine_and_conflicting_contracts_are_not() {
    let text = format!(
        "{}\n[[routes]]\ncontract = \"{}\"\n{GOOD_ROUTE}\n\n[[authorizations]]\ncontract = \"{PING}\"\n{GOOD_AUTHZ}\n\n[[contracts]]\nnamespace = \"{}\"\n",
        table_with(GOOD_ROUTE, GOOD_AUTHZ),
        PING.to_uppercase(),
        PING.to_lowercase()
    );
    let table = parse_toml(&text).unwrap();
    assert_eq!(table.counts().contracts, 1);
    assert_eq!(table.counts().routes, 1);
    assert_eq!(table.counts().authorizations, 1);
    assert!(table.warnings().is_empty());

    let conflicting = format!(
        "{}\n[[contracts]]\nnamespace = \"{PING}\"\nresponse_timeout_ms = 1000\n",
        table_with(GOOD_ROUTE, GOOD_AUTHZ)
    );
    let (entry, problem) = single_problem(&conflicting);
    assert_eq!(entry, "contracts[1].namespace");
    assert!(
        problem.contains("already listed as contracts[0]"),
        "{problem}"
    );
}

#[test]
fn unknown_profile_loads_with_a_warning() {
    let route = GOOD_ROUTE.replace("RIVTABP21", "RIVTABP30");
    let table = parse_toml(&table_with(&route, GOOD_AUTHZ)).unwrap();
    assert_eq!(
        table.warnings(),
        ["routes[0].rivta_profile: unknown RIV-TA profile 'RIVTABP30'; requests routed by this rule will fault VP005; use RIVTABP20 or RIVTABP21"]
    );
    assert_eq!(
        table.routes().next().unwrap().rivta_profile(),
        &RivtaProfile::Unknown("RIVTABP30".to_owned())
    );
}

#[test]
fn overlapping_routes_to_different_producers_warn() {
    let text = format!(
        "{}\n[[routes]]\ncontract = \"{PING}\"\n{}\nfrom = \"2025-01-01\"\n",
        table_with(GOOD_ROUTE, GOOD_AUTHZ),
        GOOD_ROUTE.replace("p.example", "q.example")
    );
    let table = parse_toml(&text).unwrap();
    assert_eq!(table.warnings().len(), 1);
    assert!(table.warnings()[0].contains("overlap; requests on days both apply fault VP006"));
}

#[test]
fn unknown_keys_and_syntax_errors_carry_line_and_column() {
    let text = table_with(GOOD_ROUTE, GOOD_AUTHZ)
        .replace("logical_address = \"A\"", "logicaladdress = \"A\"");
    let message = parse_toml(&text).unwrap_err().to_string();
    assert!(message.starts_with("routing table test.toml is not a valid TOML routing table: TOML parse error at line 7, column 1"), "{message}");
    assert!(
        message.contains("unknown field `logicaladdress`"),
        "{message}"
    );

    let err =
        RoutingTable::from_str("{\"contracts\": [}", TableFormat::Json, "t.json").unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("routing table t.json is not a valid JSON routing table: "),
        "{message}"
    );
    assert!(message.contains("line 1 column 16"), "{message}");

    let err =
        RoutingTable::from_str("{\"contracts\": []}", TableFormat::Json, "t.json").unwrap_err();
    assert!(err.to_string().contains("missing field `routes`"), "{err}");
}

#[test]
fn hsa_tree_problems_are_rejected() {
    let base = table_with(GOOD_ROUTE, GOOD_AUTHZ);
    let with_tree = |tree: &str| format!("{base}\n{tree}");
    let node =
        |id: &str, parent: &str| format!("[[hsa_tree]]\nid = \"{id}\"\nparent = \"{parent}\"\n");

    let (entry, problem) = single_problem(&with_tree(&node("A", "B")));
    assert_eq!(entry, "hsa_tree[0].parent");
    assert!(
        problem.starts_with("'B' is neither the root 'SE' nor an id listed in hsa_tree"),
        "{problem}"
    );

    let cycle = [node("A", "B"), node("B", "C"), node("C", "A")].concat();
    assert_eq!(
        single_problem(&with_tree(&cycle)),
        (
            "hsa_tree[0].parent".to_owned(),
            "the parent chain A → B → C → A never reaches 'SE'; break the cycle".to_owned()
        )
    );

    let (entry, _) = single_problem(&with_tree(&node("SE", "X")));
    assert_eq!(entry, "hsa_tree[0].id");
    let (entry, _) = single_problem(&with_tree(&node("A", "a")));
    assert_eq!(entry, "hsa_tree[0].parent");

    let conflicting = [node("A", "SE"), node("B", "SE"), node("a", "B")].concat();
    let (entry, problem) = single_problem(&with_tree(&conflicting));
    assert_eq!(entry, "hsa_tree[2].parent");
    assert!(
        problem.contains("already has the parent 'SE' (hsa_tree[0])"),
        "{problem}"
    );

    let fine = [node("A", "SE"), node("B", "a"), node("b", "A")].concat();
    assert_eq!(parse_toml(&with_tree(&fine)).unwrap().counts().hsa_nodes, 2);
}

#[test]
fn placeholders_are_substituted_before_parsing() {
    let route = GOOD_ROUTE.replace("https://p.example", "${PRODUCER}");
    let text = table_with(&route, GOOD_AUTHZ);
    let table = RoutingTable::from_str_with_vars(
        &text,
        TableFormat::Toml,
        "test.toml",
        &[("PRODUCER", "https://127.0.0.1:20443")],
    )
    .unwrap();
    assert_eq!(
        table.routes().next().unwrap().url(),
        "https://127.0.0.1:20443/ping"
    );

    let err = parse_toml(&text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "routing table test.toml, line 9: unknown placeholder ${PRODUCER}; no placeholders are defined when loading this table; replace it with the literal value"
    );
    let err =
        RoutingTable::from_str_with_vars(&text, TableFormat::Toml, "test.toml", &[("OTHER", "x")])
            .unwrap_err();
    assert!(matches!(
        &err,
        RoutingTableError::UnknownPlaceholder { line: 9, name, .. } if name == "PRODUCER"
    ));
    assert!(
        err.to_string()
            .ends_with("the defined placeholders are ${OTHER}"),
        "{err}"
    );
}

#[test]
fn load_names_the_file_and_picks_the_format_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    let toml_path = dir.path().join("tak.toml");
    std::fs::write(&toml_path, table_with(GOOD_ROUTE, GOOD_AUTHZ)).unwrap();
    let table = RoutingTable::load(&toml_path).unwrap();
    assert_eq!(table.origin(), toml_path.display().to_string());

    let json_path = dir.path().join("tak.json");
    std::fs::write(&json_path, table_with(GOOD_ROUTE, GOOD_AUTHZ)).unwrap();
    let message = RoutingTable::load(&json_path).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!(
            "routing table {} is not a valid JSON routing table",
            json_path.display()
        )),
        "{message}"
    );

    let yaml_path = dir.path().join("tak.yaml");
    assert!(matches!(
        RoutingTable::load(&yaml_path),
        Err(RoutingTableError::UnknownFormat { path }) if path == yaml_path
    ));

    let missing = dir.path().join("missing.toml");
    let message = RoutingTable::load(&missing).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!(
            "cannot read routing table {}: ",
            missing.display()
        )),
        "{message}"
    );

    let bad_route = GOOD_ROUTE.replace("https://p.example/ping", "ftp://x/");
    std::fs::write(&toml_path, table_with(&bad_route, GOOD_AUTHZ)).unwrap();
    let message = RoutingTable::load(&toml_path).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("routing table {} is invalid (1 problem): routes[0].url: 'ftp://x/' uses the scheme 'ftp'", toml_path.display())),
        "{message}"
    );

    std::fs::write(&toml_path, b"contracts = [] # \xff").unwrap();
    assert!(matches!(
        RoutingTable::load(&toml_path),
        Err(RoutingTableError::NotUtf8 { offset: 17, .. })
    ));
}
