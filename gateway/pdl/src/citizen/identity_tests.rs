//! The citizen's login as a citizen would notice it: which tokens open their own records
//! or their child's, and which check refuses the others, with which HTTP status.

use base64::Engine as _;
use chrono::NaiveDate;
use http::{HeaderMap, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

use super::config::CitizenConfig;
use super::identity::{parse_loa, ActingAs, CitizenError, CitizenVerifier, PersonNumber};
use crate::config::IssuerKeys;
use crate::consent::jwt::tests::{ec_pair, issuer, sign, write, ISS, NOW};
use crate::consent::jwt::JwtError;

/// The day ages are computed on.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 15).unwrap()
}

/// A valid number: `date` (`YYYYMMDD`, day + 60 for a coordination number), `serial`
/// (3 digits), and the Luhn check digit computed here.
fn number(date: &str, serial: &str) -> String {
    let nine = format!("{}{serial}", &date[2..]);
    let sum: u32 = nine
        .bytes()
        .enumerate()
        .map(|(i, d)| {
            let v = u32::from(d - b'0') * if i % 2 == 0 { 2 } else { 1 };
            v / 10 + v % 10
        })
        .sum();
    format!("{date}{serial}{}", (10 - sum % 10) % 10)
}

fn citizen() -> String {
    number("19811218", "987")
}

fn claims() -> Value {
    json!({
        "iss": ISS, "aud": "vaxel", "sub": citizen(), "loa": 3,
        "exp": NOW + 300, "nbf": NOW - 10,
    })
}

/// An ES256 citizen issuer; the verifier with `configure` applied and the signing key.
fn setup(configure: &dyn Fn(&mut CitizenConfig)) -> (CitizenVerifier, EncodingKey) {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = ec_pair();
    let pem = write(dir.path(), "citizen-idp.pem", &public);
    let mut config = CitizenConfig {
        enabled: true,
        issuers: vec![issuer(
            "ES256",
            IssuerKeys::Public {
                pem: Some(pem),
                pem_kid: None,
                jwks: None,
            },
        )],
        ..CitizenConfig::default()
    };
    configure(&mut config);
    let v = CitizenVerifier::from_config(&config).unwrap();
    (v, EncodingKey::from_ec_pem(private.as_bytes()).unwrap())
}

fn token(key: &EncodingKey, f: &dyn Fn(&mut Value)) -> String {
    let mut c = claims();
    f(&mut c);
    sign(Algorithm::ES256, None, key, &c)
}

#[test]
fn a_citizen_reads_their_own_records() {
    let (v, key) = setup(&|_| {});
    let with_dash = format!("{}-{}", &citizen()[..8], &citizen()[8..]);
    for sub in [citizen(), with_dash] {
        let ctx = v
            .verify_on(&token(&key, &|c| c["sub"] = json!(sub)), NOW, today())
            .unwrap();
        assert_eq!(ctx.citizen, citizen(), "normalised to 12 digits");
        assert_eq!(ctx.patient, citizen());
        assert_eq!(ctx.acting_as, ActingAs::Patient);
        assert_eq!((ctx.loa, ctx.issuer.as_str()), (3, ISS));
    }
    // The Debug form does not show the numbers.
    let ctx = v.verify_on(&token(&key, &|_| {}), NOW, today()).unwrap();
    let debug = format!("{ctx:?}");
    assert!(
        !debug.contains(&citizen()) && debug.contains("1981********"),
        "{debug}"
    );
}

#[test]
fn a_coordination_number_is_a_citizen_and_a_child() {
    let (v, key) = setup(&|_| {});
    // Born 1990-03-05: day 05 + 60 = 65.
    let coordination = number("19900365", "123");
    let ctx = v
        .verify_on(
            &token(&key, &|c| c["sub"] = json!(coordination)),
            NOW,
            today(),
        )
        .unwrap();
    assert_eq!(ctx.citizen, coordination);
    let n = PersonNumber::parse(&coordination).unwrap();
    assert!(n.is_coordination_number());
    assert_eq!(n.birth_date(), NaiveDate::from_ymd_opt(1990, 3, 5).unwrap());
    // A child with a coordination number, born 2020-01-31 (day 91).
    let child = number("20200191", "456");
    let ctx = v
        .verify_on(
            &token(&key, &|c| c["guardian_of"] = json!(child)),
            NOW,
            today(),
        )
        .unwrap();
    assert_eq!(
        (ctx.patient.as_str(), ctx.acting_as),
        (child.as_str(), ActingAs::Guardian)
    );
}

#[test]
fn a_guardian_reads_a_young_childs_records() {
    let (v, key) = setup(&|_| {});
    let child = number("20150101", "234");
    let child_dash = format!("{}-{}", &child[..8], &child[8..]);
    let ctx = v
        .verify_on(
            &token(&key, &|c| c["guardian_of"] = json!(child_dash)),
            NOW,
            today(),
        )
        .unwrap();
    assert_eq!(ctx.citizen, citizen(), "the guardian is the one logged in");
    assert_eq!(ctx.patient, child, "the child's records, normalised");
    assert_eq!(ctx.acting_as, ActingAs::Guardian);
    assert_eq!(ctx.acting_as.user_role(), "guardian");
    // The claim naming the citizen themself is no guardian claim; nor is null.
    for own in [json!(citizen()), Value::Null] {
        let ctx = v
            .verify_on(
                &token(&key, &|c| c["guardian_of"] = own.clone()),
                NOW,
                today(),
            )
            .unwrap();
        assert_eq!(ctx.acting_as, ActingAs::Patient);
    }
}

#[test]
fn the_age_limit_is_reached_on_the_birthday() {
    let (v, key) = setup(&|_| {});
    let verify = |child: &str| {
        v.verify_on(
            &token(&key, &|c| c["guardian_of"] = json!(child)),
            NOW,
            today(),
        )
    };
    // Turns 13 tomorrow: still 12.
    assert!(verify(&number("20120616", "111")).is_ok());
    // Turns 13 today: over the limit.
    let err = verify(&number("20120615", "111")).unwrap_err();
    assert_eq!(err, CitizenError::ChildOverAgeLimit { limit: 13 });
    assert_eq!(err.check(), "child-over-age-limit");
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    // Well over.
    assert_eq!(
        verify(&number("20050101", "111")).unwrap_err().check(),
        "child-over-age-limit"
    );
    // Born on 29 February: in a common year the birthday counts as 28 February.
    let leap = PersonNumber::parse(&number("20120229", "111")).unwrap();
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
    assert_eq!(leap.age_on(d(2025, 2, 27)), 12);
    assert_eq!(leap.age_on(d(2025, 2, 28)), 13);
    assert_eq!(leap.age_on(d(2024, 2, 28)), 11);
    assert_eq!(leap.age_on(d(2024, 2, 29)), 12);
    // A lower limit from the configuration.
    let (v7, key7) = setup(&|c| c.guardian_age_limit = 7);
    let seven = number("20180615", "111");
    let err = v7
        .verify_on(
            &token(&key7, &|c| c["guardian_of"] = json!(seven)),
            NOW,
            today(),
        )
        .unwrap_err();
    assert_eq!(err, CitizenError::ChildOverAgeLimit { limit: 7 });
}

#[test]
fn guardian_access_off_refuses_every_child() {
    let (v, key) = setup(&|c| c.guardian_age_limit = 0);
    let child = number("20200101", "111");
    let err = v
        .verify_on(
            &token(&key, &|c| c["guardian_of"] = json!(child)),
            NOW,
            today(),
        )
        .unwrap_err();
    assert_eq!(err, CitizenError::GuardianNotAllowed);
    assert_eq!(
        (err.check(), err.status()),
        ("guardian-not-allowed", StatusCode::FORBIDDEN)
    );
    // Own records still open.
    assert!(v.verify_on(&token(&key, &|_| {}), NOW, today()).is_ok());
}

#[test]
fn a_child_must_be_named_by_a_personal_or_coordination_number() {
    let (v, key) = setup(&|_| {});
    let mut bad_check = number("20200101", "111");
    let last = bad_check.pop().unwrap();
    bad_check.push(char::from(b'0' + (last as u8 - b'0' + 1) % 10));
    for child in [
        "20200101T111".to_string(), // reserve number with a letter
        "20201301111".to_string(),  // too short
        number("20201301", "111"),  // month 13: a reserve number's pattern
        bad_check,
    ] {
        let err = v
            .verify_on(
                &token(&key, &|c| c["guardian_of"] = json!(child)),
                NOW,
                today(),
            )
            .unwrap_err();
        assert_eq!(err, CitizenError::InvalidChildId, "{child}");
        assert_eq!(err.status(), StatusCode::FORBIDDEN);
        assert!(!err.to_string().contains(&child), "{err}");
    }
    for wrong_type in [json!(""), json!(["201501012345"]), json!(2015)] {
        let err = v
            .verify_on(
                &token(&key, &|c| c["guardian_of"] = wrong_type.clone()),
                NOW,
                today(),
            )
            .unwrap_err();
        assert_eq!(
            err,
            CitizenError::InvalidClaim("guardian_of".into()),
            "{wrong_type}"
        );
    }
}

#[test]
fn the_level_of_assurance_must_reach_the_minimum() {
    let (v, key) = setup(&|_| {});
    let verify = |loa: Value| v.verify_on(&token(&key, &|c| c["loa"] = loa.clone()), NOW, today());
    for ok in [
        json!(3),
        json!(4),
        json!("3"),
        json!("loa3"),
        json!("LoA4"),
        json!("http://id.elegnamnden.se/loa/1.0/loa3"),
        json!("http://id.elegnamnden.se/loa/1.0/eidas-sub"),
        json!("http://id.elegnamnden.se/loa/1.0/eidas-nf-high"),
    ] {
        assert!(verify(ok.clone()).is_ok(), "{ok}");
    }
    for low in [
        json!(2),
        json!("loa2"),
        json!("http://id.elegnamnden.se/loa/1.0/eidas-low"),
    ] {
        let err = verify(low.clone()).unwrap_err();
        assert_eq!(
            err,
            CitizenError::InsufficientAssurance { minimum: 3 },
            "{low}"
        );
        assert_eq!(
            (err.check(), err.status()),
            ("insufficient-assurance", StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            err.www_authenticate().unwrap(),
            "Bearer error=\"insufficient_user_authentication\", error_description=\"insufficient-assurance\""
        );
    }
    for bad in [
        json!(5),
        json!(0),
        json!(3.5),
        json!("three"),
        json!("loa33"),
        json!("http://id.swedenconnect.se/loa/1.0/uncertified-loa3"),
        json!(["loa3"]),
    ] {
        assert_eq!(
            verify(bad.clone()).unwrap_err(),
            CitizenError::InvalidClaim("loa".into()),
            "{bad}"
        );
    }
    let err = v
        .verify_on(
            &token(&key, &|c| {
                c.as_object_mut().unwrap().remove("loa");
            }),
            NOW,
            today(),
        )
        .unwrap_err();
    assert_eq!(err, CitizenError::MissingClaim("loa".into()));
    // Level 4 required: level 3 is too low; another claim name is read.
    let (v4, key4) = setup(&|c| {
        c.minimum_loa = 4;
        c.loa_claim = "acr".into();
    });
    let err = v4
        .verify_on(&token(&key4, &|c| c["acr"] = json!("loa3")), NOW, today())
        .unwrap_err();
    assert_eq!(err, CitizenError::InsufficientAssurance { minimum: 4 });
    assert!(err.to_string().contains("level 4"), "{err}");
    assert!(parse_loa(&json!("http://id.elegnamnden.se/loa/1.0/loa4")) == Some(4));
}

#[test]
fn the_subject_must_be_a_personal_identity_number() {
    let (v, key) = setup(&|_| {});
    for sub in [
        json!("SE2321000016-U1"),
        json!("191212121213"),
        json!("1212121212"),
        json!("19121212+1212"),
        json!(191212121212u64),
    ] {
        let err = v
            .verify_on(&token(&key, &|c| c["sub"] = sub.clone()), NOW, today())
            .unwrap_err();
        assert_eq!(err, CitizenError::InvalidSubject, "{sub}");
        assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
    }
    let err = v
        .verify_on(
            &token(&key, &|c| {
                c.as_object_mut().unwrap().remove("sub");
            }),
            NOW,
            today(),
        )
        .unwrap_err();
    assert_eq!(err, CitizenError::MissingClaim("sub".into()));
}

#[test]
fn token_checks_are_the_user_contexts() {
    let (v, key) = setup(&|_| {});
    let (other_private, _) = ec_pair();
    let other = EncodingKey::from_ec_pem(other_private.as_bytes()).unwrap();
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let good = token(&key, &|_| {});
    let parts: Vec<&str> = good.split('.').collect();
    let mut evil = claims();
    evil["sub"] = json!(number("19700101", "555"));
    let tampered = format!("{}.{}.{}", parts[0], b64(&evil), parts[2]);
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims())
    );
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "another audience",
            token(&key, &|c| c["aud"] = json!("vaxel-staff")),
            "wrong-audience",
        ),
        (
            "expired",
            token(&key, &|c| c["exp"] = json!(NOW - 61)),
            "expired",
        ),
        (
            "not yet valid",
            token(&key, &|c| c["nbf"] = json!(NOW + 61)),
            "not-yet-valid",
        ),
        (
            "another issuer",
            token(&key, &|c| c["iss"] = json!("https://evil")),
            "wrong-issuer",
        ),
        (
            "another key",
            sign(Algorithm::ES256, None, &other, &claims()),
            "bad-signature",
        ),
        ("tampered", tampered, "bad-signature"),
        ("alg none", alg_none, "wrong-algorithm"),
        ("not a jwt", "abc".into(), "malformed"),
    ];
    for (name, t, check) in cases {
        let err = v.verify_on(&t, NOW, today()).unwrap_err();
        assert!(matches!(err, CitizenError::Token(_)), "{name}: {err:?}");
        assert_eq!(err.check(), check, "{name}");
        assert_eq!(err.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            err.www_authenticate().unwrap(),
            format!("Bearer error=\"invalid_token\", error_description=\"{check}\"")
        );
        let msg = err.to_string();
        assert!(
            t.len() < 8 || !msg.contains(&t[..8]),
            "{name}: message echoes the token"
        );
        // The citizen's words: a login token, not care staff's "user context".
        assert!(!msg.contains("user context"), "{name}: {msg}");
        assert!(
            !msg.contains(&citizen()),
            "{name}: message echoes the subject"
        );
    }
}

#[test]
fn the_token_comes_from_authorization_bearer() {
    let (v, key) = setup(&|_| {});
    let mut h = HeaderMap::new();
    let err = v.verify_headers(&h, NOW).unwrap_err();
    assert_eq!(err, CitizenError::Token(JwtError::Missing));
    assert_eq!(err.www_authenticate().unwrap(), "Bearer");
    h.insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
    assert_eq!(v.verify_headers(&h, NOW).unwrap_err().check(), "malformed");
    // The user-context header is not the citizen's: only Authorization is read.
    h.remove("authorization");
    h.insert(
        "x-vaxel-user-context",
        token(&key, &|_| {}).parse().unwrap(),
    );
    assert_eq!(v.verify_headers(&h, NOW).unwrap_err().check(), "missing");
    h.insert(
        "authorization",
        format!("Bearer {}", token(&key, &|_| {})).parse().unwrap(),
    );
    assert_eq!(v.verify_headers(&h, NOW).unwrap().citizen, citizen());
}

#[test]
fn key_files_name_the_citizen_section() {
    let dir = tempfile::tempdir().unwrap();
    let broken = write(dir.path(), "broken.pem", "not a key");
    let err = CitizenVerifier::from_config(&CitizenConfig {
        issuers: vec![issuer(
            "ES256",
            IssuerKeys::Public {
                pem: Some(broken),
                pem_kid: None,
                jwks: None,
            },
        )],
        ..CitizenConfig::default()
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("[[citizen.issuers]] `https://idp.example`"),
        "{err}"
    );
}

#[test]
fn person_numbers_parse_with_date_and_check_digit() {
    assert_eq!(
        PersonNumber::parse("191212121212").unwrap().as_str(),
        "191212121212"
    );
    assert_eq!(
        PersonNumber::parse(" 19121212-1212 ").unwrap().as_str(),
        "191212121212"
    );
    for bad in [
        "191212121213",  // check digit
        "19121312-1212", // day 13 of month 13
        "1912121212",    // ten digits
        "19121212+1212", // the 100-year separator belongs to ten-digit numbers
        "1912121212121",
        "19121232121x",
        "19120230121",
    ] {
        assert!(PersonNumber::parse(bad).is_none(), "{bad}");
    }
    let n = PersonNumber::parse("191212121212").unwrap();
    assert_eq!(format!("{n:?}"), "PersonNumber(1912********)");
    assert!(!n.is_coordination_number());
}
