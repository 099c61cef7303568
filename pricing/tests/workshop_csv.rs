//! The workshop CSV format: examples, error reporting by row and column, and round trips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pathgrid_pricing::InstrumentResult;
use pathgrid_pricing::spec::{ExerciseStyle, ModelSpec, PayoffSpec, Scalars};
use pathgrid_pricing::workshop_csv::{self, COLUMNS, CsvPortfolio, CsvSettings, Date, HEADER, MAX_ISSUES, MAX_ROWS};
use proptest::prelude::*;

const PORTFOLIO: &str = include_str!("../../examples/workshop-portfolio.csv");

fn parse(text: &str) -> Result<CsvPortfolio, pathgrid_pricing::SpecErrors> {
    workshop_csv::parse(text, "portfolio", &CsvSettings::default())
}

fn parse_with(text: &str, settings: &CsvSettings) -> CsvPortfolio {
    workshop_csv::parse(text, "portfolio", settings).unwrap()
}

fn fake_results(p: &CsvPortfolio) -> Vec<InstrumentResult> {
    p.spec
        .instruments
        .iter()
        .enumerate()
        .map(|(i, inst)| {
            let price = 1.0 + i as f64 / 3.0;
            InstrumentResult {
                id: inst.id.clone(),
                price,
                std_error: 0.001 * (i as f64 + 1.0),
                ci95: [price - 0.1, price + 0.1],
                european_price: price - 0.5,
                early_exercise_premium: 0.5,
                exercise_boundary: None,
                lower_bound: None,
                upper_bound: None,
                accuracy: None,
            }
        })
        .collect()
}

#[test]
fn examples_parse_and_validate() {
    let json = [
        ("ls2001-put", include_str!("../../examples/ls2001-put.json")),
        ("basket-put", include_str!("../../examples/basket-put.json")),
        ("max-call-2", include_str!("../../examples/max-call-2.json")),
        ("max-call-5", include_str!("../../examples/max-call-5.json")),
    ];
    for (name, text) in json {
        let job = pathgrid_pricing::parse_job(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(job.name, name);
        assert_eq!(job.outputs.len(), 1, "{name}");
    }
    let ls = pathgrid_pricing::parse_job(json[0].1).unwrap();
    assert_eq!((ls.settings.paths, ls.settings.training_paths, ls.settings.batch_size), (200_000, 100_000, 8192));
    assert_eq!(ls.instruments[0].dates.len(), 50);
    let max5 = pathgrid_pricing::parse_job(json[3].1).unwrap();
    assert_eq!(max5.instruments[0].model.assets(), 5);
    assert_eq!(max5.instruments[0].dates.len(), 9);

    let p = parse(PORTFOLIO).unwrap();
    assert_eq!(p.rows.len(), 12);
    assert_eq!(p.spec.instruments.len(), 12);
    p.spec.validate().unwrap();
}

#[test]
fn portfolio_rows_become_american_options() {
    let p = parse(PORTFOLIO).unwrap();
    assert_eq!(p.header, HEADER);
    assert_eq!(p.spec.name, "portfolio");
    assert_eq!(p.spec.seed, 42);
    assert_eq!(p.spec.paths, 20_000);
    let first = &p.spec.instruments[0];
    assert_eq!(first.id, "opt-001");
    let ModelSpec::Gbm { spot, vol, rate, dividend, correlation } = &first.model;
    assert_eq!((spot, vol, *rate, dividend), (&Scalars::One(36.0), &Scalars::One(0.2), 0.06, &Scalars::One(0.0)));
    assert!(correlation.is_none());
    assert_eq!(first.payoff, PayoffSpec::Put { strike: 40.0, weights: None });
    assert_eq!(first.exercise.style, ExerciseStyle::American);
    assert_eq!(first.exercise.maturity, 1.0); // 11/17/2024 → 11/17/2025 is 365 days
    assert_eq!(first.exercise.steps, None, "the engine picks the dates of an American option");
    assert!(matches!(p.spec.instruments[2].payoff, PayoffSpec::Call { strike: 40.0, .. }));
    assert_eq!(p.spec.instruments[3].exercise.maturity, 92.0 / 365.0);
    // With --steps 50: 11/17/2024 → 02/17/2025 is 92 days, ceil(92 / 365 × 50) = 13 steps.
    let fixed = parse_with(PORTFOLIO, &CsvSettings { steps_per_year: 50, ..CsvSettings::default() });
    assert_eq!(fixed.spec.instruments[0].exercise.steps, Some(50));
    assert_eq!(fixed.spec.instruments[3].exercise.steps, Some(13));
}

#[test]
fn settings_flow_into_the_spec() {
    let s = CsvSettings {
        paths: 1000,
        training_paths: Some(600),
        steps_per_year: 1,
        min_steps: 4,
        seed: 9,
        batch_size: Some(256),
    };
    let p = workshop_csv::parse(PORTFOLIO, "book", &s).unwrap();
    assert_eq!((p.spec.paths, p.spec.training_paths, p.spec.seed, p.spec.batch_size), (1000, Some(600), 9, Some(256)));
    assert!(p.spec.instruments.iter().all(|i| i.exercise.steps == Some(4)));
    let engine = workshop_csv::parse(PORTFOLIO, "book", &CsvSettings { steps_per_year: 0, ..s }).unwrap();
    assert!(engine.spec.instruments.iter().all(|i| i.exercise.steps.is_none()));
    let err = workshop_csv::parse(PORTFOLIO, "book", &CsvSettings { paths: 0, ..s }).unwrap_err();
    assert!(err.mentions("paths"), "{err}");
    let err = workshop_csv::parse(PORTFOLIO, "", &s).unwrap_err();
    assert!(err.mentions("name"), "{err}");
}

#[test]
fn presentation_is_tolerated() {
    let crlf = format!("\u{feff}{}", PORTFOLIO.replace('\n', "\r\n"));
    let p = parse(&crlf).unwrap();
    assert_eq!(p.rows.len(), 12);
    assert_eq!(p.header, HEADER);
    assert!(p.rows.iter().all(|r| !r.ends_with('\r')));

    let messy = "\n  \n ID , TodaysDate,settlementdate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate \n\
                 \"a, quoted\",1/5/2024, 01/07/2024 ,put,36,40,0.06,0.2,1/7/2025\n\
                 ,,,,,,,,\n\
                 \n\
                 b,01/05/2024,01/07/2024,CALL,+36,4e1,6e-2,.2,01/07/2026";
    let p = parse(messy).unwrap();
    assert_eq!(p.rows.len(), 2);
    assert_eq!(p.spec.instruments[0].id, "a, quoted");
    assert!(matches!(p.spec.instruments[1].payoff, PayoffSpec::Call { strike: 40.0, .. }));
    assert_eq!(p.spec.instruments[1].exercise.maturity, 731.0 / 365.0);
    assert!(workshop_csv::looks_like_workshop_csv(messy));
    assert!(workshop_csv::looks_like_workshop_csv(&crlf));
}

#[test]
fn sniffing() {
    assert!(workshop_csv::looks_like_workshop_csv(PORTFOLIO));
    assert!(workshop_csv::looks_like_workshop_csv(&format!("{HEADER},price,std_error\n")));
    assert!(!workshop_csv::looks_like_workshop_csv(include_str!("../../examples/ls2001-put.json")));
    assert!(!workshop_csv::looks_like_workshop_csv(""));
    assert!(!workshop_csv::looks_like_workshop_csv("id,todaysDate\n"));
}

#[test]
fn header_problems() {
    let err = parse("").unwrap_err();
    assert!(err.mentions("header"), "{err}");
    let err = parse("\u{feff}\r\n  \r\n").unwrap_err();
    assert!(err.mentions("header"), "{err}");
    let err = parse(&PORTFOLIO.replacen("strike", "strik", 1)).unwrap_err();
    assert!(err.mentions("header"), "{err}");
    assert!(err.to_string().contains(HEADER), "{err}");
    assert!(err.to_string().contains("column 6"), "{err}");
    let err = parse(&PORTFOLIO.replacen(",maturityDate", "", 1)).unwrap_err();
    assert!(err.to_string().contains("maturityDate\" is missing"), "{err}");
    let err = parse(&PORTFOLIO.replacen("maturityDate", "maturityDate,notes", 1)).unwrap_err();
    assert!(err.to_string().contains("\"notes\""), "{err}");
    let err = parse(&format!("{HEADER}\n\n")).unwrap_err();
    assert!(err.mentions("rows"), "{err}");
}

#[test]
fn row_problems_name_row_and_column() {
    let text = format!(
        "{HEADER}\n\
         a,11/15/2024,11/17/2024,Put,abc,40,0.06,0.2,11/17/2025\n\
         b,11/15/2024,11/17/2024,Straddle,36,-40,0.06,0.2,13/17/2025\n\
         a,11/15/2024,11/17/2024,Put,36,40,0.06,0.2\n\
         a,11/15/2024,11/17/2024,Put,36,40,0.06,0.2,11/17/2024\n\
         ,02/29/2023,11/17/2024,Put,36,40,0.06,-0.2,11/17/2025\n\
         c,11/15/2024,11/17/2024,Put,-36,40,0.06,0.2,11/17/2025\n\
         d,11/15/2024,11/17/2024,Put,36,40,0.06,inf,11/17/2025\n\
         e,11/15/2024,11/17/2024,Call,36,40,5,0.2,11/17/2225\n"
    );
    let err = parse(&text).unwrap_err();
    let has = |path: &str, text: &str| {
        assert!(err.issues().iter().any(|i| i.path == path && i.message.contains(text)), "{path}: {text}\n{err}");
    };
    has("row 1, column underlying", "\"abc\" is not a number");
    has("row 2, column optionType", "\"Straddle\"");
    has("row 2, column maturityDate", "month 13 out of range");
    has("row 3", "expected 9 columns");
    has("row 4, column id", "duplicate id \"a\" (first used in row 1)");
    has("row 4, column maturityDate", "maturityDate must be after settlementDate");
    has("row 5, column id", "must not be empty");
    has("row 5, column todaysDate", "day 29 out of range");
    // Content problems of otherwise well-formed rows, found by the spec validation.
    has("row 6, column underlying", "must be > 0");
    has("row 7, column volatility", "not a finite number");
    has("row 8, column riskFreeRate", "[-1, 1]");
    has("row 8, column maturityDate", "100 years");
    // Every problem of a row, also besides its syntax problems: row 2's negative strike,
    // row 5's negative vol; and each only once.
    has("row 2, column strike", "must be > 0");
    has("row 5, column volatility", "must be >= 0");
    assert_eq!(err.issues().iter().filter(|i| i.path == "row 4, column id").count(), 1, "{err}");
    assert_eq!(err.issues().iter().filter(|i| i.path == "row 5, column id").count(), 1, "{err}");
    // Listed in row order.
    let rows: Vec<usize> = err
        .issues()
        .iter()
        .filter_map(|i| i.path.strip_prefix("row ")?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect();
    assert!(rows.windows(2).all(|w| w[0] <= w[1]), "{err}");
}

#[test]
fn problems_are_capped() {
    let mut text = format!("{HEADER}\n");
    for i in 0..500 {
        text.push_str(&format!("x{i},11/15/2024,11/17/2024,Put,abc,40,0.06,0.2,11/17/2025\n"));
    }
    let err = parse(&text).unwrap_err();
    assert_eq!(err.issues().len(), MAX_ISSUES + 1);
    assert!(err.issues().last().unwrap().message.contains("400 more problems"), "{err}");
}

#[test]
fn too_many_rows_are_refused() {
    let row = "x,11/15/2024,11/17/2024,Put,36,40,0.06,0.2,11/17/2025\n";
    let mut text = String::with_capacity((MAX_ROWS + 3) * row.len());
    text.push_str(HEADER);
    text.push('\n');
    for _ in 0..=MAX_ROWS {
        text.push_str(row);
    }
    let err = parse(&text).unwrap_err();
    assert!(err.mentions("rows"), "{err}");
    assert!(err.to_string().contains(&format!("{}", MAX_ROWS + 1)), "{err}");
}

#[test]
fn results_are_appended_in_order() {
    let p = parse(PORTFOLIO).unwrap();
    let results = fake_results(&p);
    let out = workshop_csv::write_results(&p, &results).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 13);
    assert_eq!(lines[0], format!("{HEADER},price,std_error,ci95_low,ci95_high"));
    assert_eq!(
        lines[1],
        "opt-001,11/15/2024,11/17/2024,Put,36,40,0.06,0.2,11/17/2025,1.000000,0.001000,0.900000,1.100000"
    );
    assert!(out.ends_with('\n'));

    let err = workshop_csv::write_results(&p, &results[1..]).unwrap_err();
    assert!(err.to_string().contains("11 results"), "{err}");
    let mut swapped = results.clone();
    swapped.swap(0, 1);
    let err = workshop_csv::write_results(&p, &swapped).unwrap_err();
    assert!(err.to_string().contains("opt-002"), "{err}");
}

// ---- property tests ----------------------------------------------------------------

/// One valid row: (id, settlement day, days to maturity, put?, spot, strike, rate, vol).
#[derive(Debug, Clone)]
struct Row {
    id: String,
    settlement: Date,
    maturity: Date,
    days: i64,
    call: bool,
    spot: f64,
    strike: f64,
    rate: f64,
    vol: f64,
}

fn date_from(days: i64) -> Date {
    Date::from_days_since_epoch(days).unwrap()
}

fn arb_row() -> impl Strategy<Value = (i64, i64, bool, f64, f64, f64, f64)> {
    (
        // settlement between 2000 and 2040, maturity 1 day to 30 years later
        10_957i64..25_567,
        1i64..10_958,
        any::<bool>(),
        1.0f64..500.0,
        1.0f64..500.0,
        -0.05f64..0.2,
        0.0f64..2.0,
    )
}

fn arb_rows() -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec(arb_row(), 1..16).prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (s, days, call, spot, strike, rate, vol))| Row {
                id: format!("opt-{i}"),
                settlement: date_from(s),
                maturity: date_from(s + days),
                days,
                call,
                spot,
                strike,
                rate,
                vol,
            })
            .collect()
    })
}

fn cells(r: &Row) -> Vec<String> {
    vec![
        r.id.clone(),
        r.settlement.to_string(),
        r.settlement.to_string(),
        if r.call { "Call" } else { "Put" }.to_string(),
        r.spot.to_string(),
        r.strike.to_string(),
        r.rate.to_string(),
        r.vol.to_string(),
        r.maturity.to_string(),
    ]
}

/// Bad values for each column, with a hint of what the message says.
fn corruption(column: usize) -> BoxedStrategy<String> {
    let date = prop_oneof![
        Just("13/01/2024".to_string()),
        Just("02/30/2024".to_string()),
        Just("02/29/2023".to_string()),
        Just("2024-01-01".to_string()),
        Just("".to_string()),
        "[a-z]{1,8}",
        (1u32..13, 32u32..100, 1000u32..10000).prop_map(|(m, d, y)| format!("{m:02}/{d:02}/{y}")),
    ];
    let number = prop_oneof![Just("".to_string()), Just("NaN".to_string()), Just("1.5.2".to_string()), "[a-z]{1,8}"];
    match column {
        0 => Just(String::new()).boxed(),
        1 | 2 => date.boxed(),
        3 => prop_oneof![Just("".to_string()), Just("American".to_string()), "[a-z]{2,8}"]
            .prop_filter("not a type", |s| !s.eq_ignore_ascii_case("put") && !s.eq_ignore_ascii_case("call"))
            .boxed(),
        // underlying and strike: also non-positive numbers (caught by validation)
        4 | 5 => prop_oneof![number, (-1e6f64..=0.0).prop_map(|x| x.to_string())].boxed(),
        6 => prop_oneof![number, (1.01f64..1e3).prop_map(|x| x.to_string())].boxed(),
        7 => prop_oneof![number, (-10.0f64..-1e-9).prop_map(|x| x.to_string())].boxed(),
        // maturity: invalid, or not after the settlement (every test row settles in 2000–2040)
        _ => prop_oneof![date, Just("01/01/1999".to_string())].boxed(),
    }
}

fn to_csv(rows: &[Vec<String>], crlf: bool, bom: bool, trailing: bool) -> (String, Vec<String>) {
    let lines: Vec<String> = rows.iter().map(|c| c.join(",")).collect();
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut text = String::new();
    if bom {
        text.push('\u{feff}');
    }
    text.push_str(HEADER);
    for l in &lines {
        text.push_str(eol);
        text.push_str(l);
    }
    if trailing {
        text.push_str(eol);
    }
    (text, lines)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        let _ = parse(&s);
        let _ = workshop_csv::looks_like_workshop_csv(&s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let s = String::from_utf8_lossy(&bytes);
        let _ = parse(&s);
        let _ = parse(&format!("{HEADER}\n{s}"));
        let _ = workshop_csv::looks_like_workshop_csv(&s);
    }

    /// Rows built from CSV-ish characters after a valid header reach the cell parsers.
    #[test]
    fn csv_like_rows_never_panic(body in "([0-9/.,eE+\\-\" PutCal\u{feff}\r\n]|inf|NaN){0,300}") {
        let _ = parse(&format!("{HEADER}\n{body}"));
        let _ = parse(&format!("{HEADER}\nx,11/15/2024,{body}"));
    }

    #[test]
    fn corrupted_cell_names_row_and_column(
        rows in arb_rows(),
        pick in any::<prop::sample::Index>(),
        (column, bad) in (0usize..9).prop_flat_map(|c| (Just(c), corruption(c))),
    ) {
        let mut table: Vec<Vec<String>> = rows.iter().map(cells).collect();
        let r = pick.index(table.len());
        table[r][column] = bad.clone();
        let (text, _) = to_csv(&table, false, false, true);
        let err = parse(&text).expect_err("corrupted CSV must be refused");
        let path = format!("row {}, column {}", r + 1, COLUMNS[column]);
        prop_assert!(err.mentions(&path), "{} not named for {:?}:\n{}", path, bad, err);
    }

    #[test]
    fn duplicate_id_names_the_later_row(rows in arb_rows().prop_filter("two rows", |r| r.len() >= 2), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let mut table: Vec<Vec<String>> = rows.iter().map(cells).collect();
        let (i, j) = (a.index(table.len()), b.index(table.len()));
        prop_assume!(i != j);
        let (first, later) = (i.min(j), i.max(j));
        table[later][0] = table[first][0].clone();
        let (text, _) = to_csv(&table, false, false, false);
        let err = parse(&text).unwrap_err();
        prop_assert!(err.mentions(&format!("row {}, column id", later + 1)), "{}", err);
        prop_assert!(err.to_string().contains(&format!("first used in row {}", first + 1)), "{}", err);
    }

    #[test]
    fn round_trip(rows in arb_rows(), crlf in any::<bool>(), bom in any::<bool>(), trailing in any::<bool>()) {
        let table: Vec<Vec<String>> = rows.iter().map(cells).collect();
        let (text, lines) = to_csv(&table, crlf, bom, trailing);
        let p = parse(&text).unwrap();
        prop_assert_eq!(&p.rows, &lines);
        prop_assert_eq!(p.spec.instruments.len(), rows.len());
        for (inst, row) in p.spec.instruments.iter().zip(&rows) {
            prop_assert_eq!(&inst.id, &row.id);
            let ModelSpec::Gbm { spot, vol, rate, .. } = &inst.model;
            prop_assert_eq!(spot, &Scalars::One(row.spot));
            prop_assert_eq!(vol, &Scalars::One(row.vol));
            prop_assert_eq!(*rate, row.rate);
            let strike = match inst.payoff {
                PayoffSpec::Call { strike, .. } if row.call => strike,
                PayoffSpec::Put { strike, .. } if !row.call => strike,
                ref other => panic!("wrong payoff {other:?}"),
            };
            prop_assert_eq!(strike, row.strike);
            prop_assert_eq!(inst.exercise.maturity, row.days as f64 / 365.0);
            prop_assert_eq!(inst.exercise.steps, CsvSettings::default().steps_for_days(row.days));
        }
        let out = workshop_csv::write_results(&p, &fake_results(&p)).unwrap();
        let out_lines: Vec<&str> = out.lines().collect();
        prop_assert_eq!(out_lines.len(), lines.len() + 1);
        prop_assert_eq!(out_lines[0], format!("{HEADER},price,std_error,ci95_low,ci95_high"));
        for (o, l) in out_lines[1..].iter().zip(&lines) {
            prop_assert!(o.starts_with(l.as_str()));
            prop_assert_eq!(o[l.len()..].matches(',').count(), 4);
        }
        // The output is itself a readable CSV whose first columns are the input.
        prop_assert!(workshop_csv::looks_like_workshop_csv(&out));
    }
}
