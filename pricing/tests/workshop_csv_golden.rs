//! Golden tests of the workshop CSV: the exact values, bits, output text and messages that
//! users and stored results depend on. The reader, the writer and the calendar may be
//! rewritten, but what they accept and produce must not move by a bit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pathgrid_pricing::InstrumentResult;
use pathgrid_pricing::spec::{ModelSpec, PayoffSpec, Scalars};
use pathgrid_pricing::workshop_csv::{self, CsvPortfolio, CsvSettings, Date, HEADER};

/// Everything the reader tolerates, in one file: a BOM, CRLF and LF line ends, blank and
/// comma-only lines, whitespace (also Unicode's and a carriage return) around cells, quoted
/// cells with commas, doubled quotes and whitespace inside or before them, a quote inside
/// an unquoted cell, one- and two-digit months and days, leap days and century years, the
/// first and last years of the calendar.
const ACCEPTED: &str = concat!(
    "\u{feff}id,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate\r\n",
    "\r\n",
    "leap,02/28/2024,02/29/2024,Put,36,40,0.06,0.2,02/28/2025\r\n",
    "\"q, \"\"x\"\"\" , 1/5/2024 ,1/7/2024,call, 4e1 ,+36,-0.01,.25, 2/29/2028\r\n",
    " ,,, , \r\n",
    "c2000,12/31/1999,01/01/2000,PUT,100,100,0,0,03/01/2000\r\n",
    " \"sp, q\" ,1/1/2001,1/1/2001,Call,1e2,99.5,1e-2,0.3,1/2/2001\r\n",
    "\" z \",02/28/2100,02/28/2100,put,\u{a0}50\u{a0},55\r,0.05,\t0.4,03/01/2100\r\n",
    "\"a\"b,11/15/2024,11/17/2024,Put,36,40,0.06,0.2,11/17/2025\n",
    "in\"ner,1/1/0001,1/1/0001,Call,33.5,37.5,0.045,0.22,12/31/0050\n",
    "\n",
    "y9999,12/30/9999,12/30/9999,Put,1e-6,1e9,1,10,12/31/9999",
);

/// One parsed row: id, call?, then the bits of spot, strike, rate, vol and maturity (years,
/// Actual/365), and the exercise dates under the default settings and under 52 per year.
type Golden = (&'static str, bool, u64, u64, u64, u64, u64, Option<u64>, Option<u64>);

/// A date as text and as days since 1970-01-01, or the message refusing it.
type DateOutcome = Result<(&'static str, i64), &'static str>;

#[rustfmt::skip]
const INSTRUMENTS: [Golden; 8] = [
    // 02/29/2024 → 02/28/2025: 365 days, exactly one year.
    ("leap", false, 0x4042000000000000, 0x4044000000000000, 0x3FAEB851EB851EB8, 0x3FC999999999999A, 0x3FF0000000000000, None, Some(52)),
    // 01/07/2024 → 02/29/2028: 1514 days.
    ("q, \"x\"", true, 0x4044000000000000, 0x4042000000000000, 0xBF847AE147AE147B, 0x3FD0000000000000, 0x4010977EF2AC8978, None, Some(216)),
    // 01/01/2000 → 03/01/2000: 60 days (2000 is a leap year).
    ("c2000", false, 0x4059000000000000, 0x4059000000000000, 0x0000000000000000, 0x0000000000000000, 0x3FC50A8542A150A8, None, Some(10)),
    ("sp, q", true, 0x4059000000000000, 0x4058E00000000000, 0x3F847AE147AE147B, 0x3FD3333333333333, 0x3F66719F3601671A, None, Some(10)),
    // 02/28/2100 → 03/01/2100: 1 day (2100 is not a leap year).
    ("z", false, 0x4049000000000000, 0x404B800000000000, 0x3FA999999999999A, 0x3FD999999999999A, 0x3F66719F3601671A, None, Some(10)),
    ("ab", false, 0x4042000000000000, 0x4044000000000000, 0x3FAEB851EB851EB8, 0x3FC999999999999A, 0x3FF0000000000000, None, Some(52)),
    // 01/01/0001 → 12/31/0050: 18261 days.
    ("in\"ner", true, 0x4040C00000000000, 0x4042C00000000000, 0x3FA70A3D70A3D70A, 0x3FCC28F5C28F5C29, 0x404903DB875D483E, None, Some(2602)),
    ("y9999", false, 0x3EB0C6F7A0B5ED8D, 0x41CDCD6500000000, 0x3FF0000000000000, 0x4024000000000000, 0x3F66719F3601671A, None, Some(10)),
];

fn parse(text: &str) -> Result<CsvPortfolio, pathgrid_pricing::SpecErrors> {
    workshop_csv::parse(text, "golden", &CsvSettings::default())
}

/// Each issue as `path: message`.
fn issues(text: &str) -> Vec<String> {
    parse(text).unwrap_err().issues().iter().map(ToString::to_string).collect()
}

#[test]
fn accepted_rows_keep_every_bit() {
    let p = parse(ACCEPTED).unwrap();
    let weekly =
        workshop_csv::parse(ACCEPTED, "golden", &CsvSettings { steps_per_year: 52, ..CsvSettings::default() }).unwrap();
    assert_eq!(p.header, HEADER);
    assert_eq!(
        p.rows,
        [
            "leap,02/28/2024,02/29/2024,Put,36,40,0.06,0.2,02/28/2025",
            "\"q, \"\"x\"\"\" , 1/5/2024 ,1/7/2024,call, 4e1 ,+36,-0.01,.25, 2/29/2028",
            "c2000,12/31/1999,01/01/2000,PUT,100,100,0,0,03/01/2000",
            " \"sp, q\" ,1/1/2001,1/1/2001,Call,1e2,99.5,1e-2,0.3,1/2/2001",
            "\" z \",02/28/2100,02/28/2100,put,\u{a0}50\u{a0},55\r,0.05,\t0.4,03/01/2100",
            "\"a\"b,11/15/2024,11/17/2024,Put,36,40,0.06,0.2,11/17/2025",
            "in\"ner,1/1/0001,1/1/0001,Call,33.5,37.5,0.045,0.22,12/31/0050",
            "y9999,12/30/9999,12/30/9999,Put,1e-6,1e9,1,10,12/31/9999",
        ]
    );
    assert_eq!(p.spec.instruments.len(), INSTRUMENTS.len());
    for ((inst, stepped), golden) in p.spec.instruments.iter().zip(&weekly.spec.instruments).zip(INSTRUMENTS) {
        let ModelSpec::Gbm { spot: Scalars::One(spot), vol: Scalars::One(vol), rate, dividend, correlation } =
            &inst.model
        else {
            panic!("{}: not a single GBM asset: {:?}", inst.id, inst.model);
        };
        let (call, strike) = match inst.payoff {
            PayoffSpec::Call { strike, weights: None } => (true, strike),
            PayoffSpec::Put { strike, weights: None } => (false, strike),
            ref other => panic!("{}: unexpected payoff {other:?}", inst.id),
        };
        let got = (
            inst.id.as_str(),
            call,
            spot.to_bits(),
            strike.to_bits(),
            rate.to_bits(),
            vol.to_bits(),
            inst.exercise.maturity.to_bits(),
            inst.exercise.steps,
            stepped.exercise.steps,
        );
        assert_eq!(got, golden);
        assert_eq!((dividend, correlation), (&Scalars::One(0.0), &None));
    }
}

#[test]
fn result_text_is_unchanged() {
    let p = parse(ACCEPTED).unwrap();
    // Values that exercise the rounding to six decimals, signs of tiny values and large ones.
    let prices = [1.0 / 3.0, 2.0 / 3.0, 1e-7, -5e-7, 12_345.678_95, 5e-7, 1.5e9, 0.1];
    let results: Vec<InstrumentResult> = p
        .spec
        .instruments
        .iter()
        .zip(prices)
        .map(|(inst, price)| InstrumentResult {
            id: inst.id.clone(),
            price,
            std_error: price / 7.0,
            ci95: [price - 5e-7, price + 1.25e-6],
            european_price: 0.0,
            early_exercise_premium: 0.0,
            exercise_boundary: None,
            lower_bound: None,
            upper_bound: None,
            accuracy: None,
        })
        .collect();
    let out = workshop_csv::write_results(&p, &results).unwrap();
    let expected = concat!(
        "id,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate,price,std_error,ci95_low,ci95_high\n",
        "leap,02/28/2024,02/29/2024,Put,36,40,0.06,0.2,02/28/2025,0.333333,0.047619,0.333333,0.333335\n",
        "\"q, \"\"x\"\"\" , 1/5/2024 ,1/7/2024,call, 4e1 ,+36,-0.01,.25, 2/29/2028,0.666667,0.095238,0.666666,0.666668\n",
        "c2000,12/31/1999,01/01/2000,PUT,100,100,0,0,03/01/2000,0.000000,0.000000,-0.000000,0.000001\n",
        " \"sp, q\" ,1/1/2001,1/1/2001,Call,1e2,99.5,1e-2,0.3,1/2/2001,-0.000000,-0.000000,-0.000001,0.000001\n",
        "\" z \",02/28/2100,02/28/2100,put,\u{a0}50\u{a0},55\r,0.05,\t0.4,03/01/2100,12345.678950,1763.668421,12345.678949,12345.678951\n",
        "\"a\"b,11/15/2024,11/17/2024,Put,36,40,0.06,0.2,11/17/2025,0.000000,0.000000,0.000000,0.000002\n",
        "in\"ner,1/1/0001,1/1/0001,Call,33.5,37.5,0.045,0.22,12/31/0050,1500000000.000000,214285714.285714,1500000000.000000,1500000000.000001\n",
        "y9999,12/30/9999,12/30/9999,Put,1e-6,1e9,1,10,12/31/9999,0.100000,0.014286,0.100000,0.100001\n",
    );
    assert_eq!(out, expected);
}

#[test]
fn header_messages_are_unchanged() {
    let expected_columns = format!("expected the columns {HEADER}");
    let cases: [(String, String); 8] = [
        (String::new(), format!("header: the file is empty; expected the header line {HEADER}")),
        ("\u{feff}\r\n \r\n,,\r\n".into(), format!("header: the file is empty; expected the header line {HEADER}")),
        (
            HEADER.replace("strike", "strik"),
            format!("header: {expected_columns}; column 6 is \"strik\", expected \"strike\""),
        ),
        (
            HEADER.replace(",maturityDate", ""),
            format!("header: {expected_columns}; column \"maturityDate\" is missing"),
        ),
        (
            format!("{HEADER},notes\n"),
            format!("header: {expected_columns}; unexpected column \"notes\" after maturityDate"),
        ),
        (
            format!("\"{HEADER}\n"),
            format!("header: {expected_columns}; a quoted cell is not closed (quoted cells cannot span lines)"),
        ),
        // Only one byte order mark is skipped.
        (
            format!("\u{feff}\u{feff}{HEADER}\na,11/15/2024,11/17/2024,Put,36,40,0.06,0.2,11/17/2025\n"),
            format!("header: {expected_columns}; column 1 is \"\\u{{feff}}id\", expected \"id\""),
        ),
        (format!("{HEADER}\n\n ,, \n"), "rows: no data rows after the header".into()),
    ];
    for (text, message) in cases {
        assert_eq!(issues(&text), [message], "{text:?}");
        assert!(parse(&text).unwrap_err().to_string().starts_with("invalid spec (1 problem):\n  - "));
    }
}

#[test]
fn row_messages_are_unchanged() {
    let long = "x".repeat(45);
    let text = format!(
        concat!(
            "{}\n",
            "a,11/15/2024,11/17/2024,Put,abc,40,0.06,0.2,11/17/2025\n",
            "b,11/15/2024,11/17/2024,Straddle,36,-40,0.06,0.2,13/17/2025\n",
            "a,11/15/2024,11/17/2024,Put,36,40,0.06,0.2\n",
            "a,11/15/2024,11/17/2024,Put,36,40,0.06,0.2,11/17/2024\n",
            ",02/29/2023,11/17/2024,Put,36,40,0.06,-0.2,11/17/2025\n",
            "c,11/15/2024,11/17/2024,Put,-36,40,0.06,0.2,11/17/2025\n",
            "d,11/15/2024,11/17/2024,Put,36,40,0.06,inf,11/17/2025\n",
            "e,11/15/2024,11/17/2024,Call,36,40,5,0.2,11/17/2225\n",
            "f,\"11/15/2024,11/17/2024,Put,36,40,0.06,0.2,11/17/2025\n",
            "g,2024-01-01,1/1/24,,3\r6,,NaN,1.5.2,\n",
            "h,00/01/2024,01/00/2024,Call,36,40,0.06,0.2,04/31/2024\n",
            "i,01/01/0000,+1/01/2024,Call,36,40,0.06,0.2,01/01/２０２４\n",
            "j,{},11/17/2024,Call,36,40,0.06,0.2,02/29/2100\n",
            "k,11/15/2024,12/01/2024,Call,36,40,0.06,0.2,11/30/2024\n",
            "l,11/15/2024,11/17/2024,Call,1e10,40,0.06,0.2,11/17/2025,\n",
            "m,11/15/2024,11/17/2024,Call,36,40,0.06,11,11/17/2025\n",
            "q\u{1},11/15/2024,11/17/2024,Call,36,40,0.06,0.2,11/17/2025\n",
        ),
        HEADER, long
    );
    let expected = [
        "row 1, column underlying: \"abc\" is not a number",
        "row 2, column maturityDate: month 13 out of range",
        "row 2, column optionType: \"Straddle\" is not an option type; expected Put or Call",
        "row 2, column strike: must be > 0",
        "row 3: expected 9 columns (id,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate), got 8",
        "row 4, column id: duplicate id \"a\" (first used in row 1)",
        "row 4, column maturityDate: maturityDate must be after settlementDate (11/17/2024)",
        "row 5, column id: must not be empty",
        "row 5, column todaysDate: day 29 out of range (February 2023 has 28 days)",
        "row 5, column volatility: must be >= 0",
        "row 6, column underlying: must be > 0",
        "row 7, column volatility: \"inf\" is not a finite number",
        "row 8, column riskFreeRate: must lie in [-1, 1] (continuously compounded, per year)",
        "row 8, column maturityDate: must be > 0 and at most 100 years",
        "row 9: a quoted cell is not closed (quoted cells cannot span lines)",
        "row 10, column todaysDate: \"2024-01-01\" is not a date in MM/DD/YYYY format",
        "row 10, column settlementDate: \"1/1/24\" is not a date in MM/DD/YYYY format",
        "row 10, column maturityDate: is empty; expected a date MM/DD/YYYY",
        "row 10, column optionType: \"\" is not an option type; expected Put or Call",
        "row 10, column underlying: \"3\\r6\" is not a number",
        "row 10, column strike: is empty; expected a number",
        "row 10, column riskFreeRate: \"NaN\" is not a finite number",
        "row 10, column volatility: \"1.5.2\" is not a number",
        "row 11, column todaysDate: month 0 out of range",
        "row 11, column settlementDate: day 0 out of range (January 2024 has 31 days)",
        "row 11, column maturityDate: day 31 out of range (April 2024 has 30 days)",
        "row 12, column todaysDate: year 0 out of range",
        "row 12, column settlementDate: \"+1/01/2024\" is not a date in MM/DD/YYYY format",
        "row 12, column maturityDate: \"01/01/２０２４\" is not a date in MM/DD/YYYY format",
        "row 13, column todaysDate: \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"… is not a date in MM/DD/YYYY format",
        "row 13, column maturityDate: day 29 out of range (February 2100 has 28 days)",
        "row 14, column maturityDate: maturityDate must be after settlementDate (12/01/2024)",
        "row 15: expected 9 columns (id,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate), got 10",
        "row 16, column volatility: must be at most 10 (1000%)",
        "row 17, column id: must be 1 to 256 characters without control characters",
    ];
    assert_eq!(issues(&text), expected);
    assert!(
        parse(&text).unwrap_err().to_string().starts_with("invalid spec (35 problems):\n  - row 1, column underlying")
    );

    let mut capped = format!("{HEADER}\n");
    for i in 0..150 {
        capped.push_str(&format!("x{i},11/15/2024,11/17/2024,Put,abc,40,0.06,0.2,11/17/2025\n"));
    }
    let capped = issues(&capped);
    assert_eq!(capped.len(), 101);
    assert_eq!(capped[99], "row 100, column underlying: \"abc\" is not a number");
    assert_eq!(capped[100], "… and 50 more problems not shown");
}

/// Text after a closing quote is text, also after an empty quoted string: `"" "n,o"` is
/// the cells `"n` and `o"`, and `" " "p` the cell `"p`. (These were once read as `n,o` and
/// as an open quote: a quote after an empty quoted string opened a new one.)
#[test]
fn quoted_text_after_an_empty_quoted_string() {
    let row = |id: &str| format!("{HEADER}\n{id},11/15/2024,11/17/2024,Call,36,40,0.06,0.2,11/17/2025\n");
    assert_eq!(issues(&row("\"\" \"n,o\"")), [format!("row 1: expected 9 columns ({HEADER}), got 10")]);
    assert_eq!(parse(&row("\" \" \"p")).unwrap().spec.instruments[0].id, "\"p");
}

#[test]
fn date_texts_and_day_numbers_are_unchanged() {
    let parsed: [(&str, DateOutcome); 23] = [
        ("", Err("is empty; expected a date MM/DD/YYYY")),
        (" ", Err("is empty; expected a date MM/DD/YYYY")),
        ("2024-01-01", Err("\"2024-01-01\" is not a date in MM/DD/YYYY format")),
        ("1/1/24", Err("\"1/1/24\" is not a date in MM/DD/YYYY format")),
        ("01/01/2024/1", Err("\"01/01/2024/1\" is not a date in MM/DD/YYYY format")),
        ("a/b/cccc", Err("\"a/b/cccc\" is not a date in MM/DD/YYYY format")),
        ("01//2024", Err("\"01//2024\" is not a date in MM/DD/YYYY format")),
        ("+1/01/2024", Err("\"+1/01/2024\" is not a date in MM/DD/YYYY format")),
        ("01/01/２０２４", Err("\"01/01/２０２４\" is not a date in MM/DD/YYYY format")),
        ("13/01/2024", Err("month 13 out of range")),
        ("00/01/2024", Err("month 0 out of range")),
        ("04/31/2024", Err("day 31 out of range (April 2024 has 30 days)")),
        ("01/00/2024", Err("day 0 out of range (January 2024 has 31 days)")),
        ("01/01/0000", Err("year 0 out of range")),
        ("02/29/2023", Err("day 29 out of range (February 2023 has 28 days)")),
        ("02/29/1900", Err("day 29 out of range (February 1900 has 28 days)")),
        ("02/29/2100", Err("day 29 out of range (February 2100 has 28 days)")),
        ("1/32/2024", Err("day 32 out of range (January 2024 has 31 days)")),
        ("99/99/9999", Err("month 99 out of range")),
        ("01/01/10000", Err("\"01/01/10000\" is not a date in MM/DD/YYYY format")),
        (
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Err("\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"… is not a date in MM/DD/YYYY format"),
        ),
        (" 2/29/2000 ", Ok(("02/29/2000", 11_016))),
        ("1/5/2025", Ok(("01/05/2025", 20_093))),
    ];
    for (text, expected) in parsed {
        let got = Date::parse_mdy(text).map(|d| (d.to_string(), d.days_since_epoch()));
        let got = got.as_ref().map(|(s, n)| (s.as_str(), *n)).map_err(String::as_str);
        assert_eq!(got, expected, "{text:?}");
    }

    let built: [((i32, u32, u32), DateOutcome); 13] = [
        ((0, 1, 1), Err("year 0 out of range")),
        ((10_000, 1, 1), Err("year 10000 out of range")),
        ((-5, 1, 1), Err("year -5 out of range")),
        ((2024, 0, 1), Err("month 0 out of range")),
        ((2024, 13, 1), Err("month 13 out of range")),
        ((2024, 2, 30), Err("day 30 out of range (February 2024 has 29 days)")),
        ((2023, 2, 29), Err("day 29 out of range (February 2023 has 28 days)")),
        ((2024, 4, 31), Err("day 31 out of range (April 2024 has 30 days)")),
        ((2024, 12, 0), Err("day 0 out of range (December 2024 has 31 days)")),
        ((2024, 12, 32), Err("day 32 out of range (December 2024 has 31 days)")),
        ((2024, 1, u32::MAX), Err("day 4294967295 out of range (January 2024 has 31 days)")),
        ((1, 1, 1), Ok(("01/01/0001", -719_162))),
        ((9999, 12, 31), Ok(("12/31/9999", 2_932_896))),
    ];
    for ((y, m, d), expected) in built {
        let got = Date::new(y, m, d).map(|d| (d.to_string(), d.days_since_epoch()));
        let got = got.as_ref().map(|(s, n)| (s.as_str(), *n)).map_err(String::as_str);
        assert_eq!(got, expected, "{y}-{m}-{d}");
    }

    let from_days: [(i64, Option<&str>); 10] = [
        (i64::MIN, None),
        (-719_163, None),
        (-719_162, Some("01/01/0001")),
        (-1, Some("12/31/1969")),
        (0, Some("01/01/1970")),
        (1, Some("01/02/1970")),
        (19_783, Some("03/01/2024")),
        (2_932_896, Some("12/31/9999")),
        (2_932_897, None),
        (i64::MAX, None),
    ];
    for (n, expected) in from_days {
        assert_eq!(Date::from_days_since_epoch(n).map(|d| d.to_string()).as_deref(), expected, "{n}");
    }
}

#[test]
fn sniffing_is_unchanged() {
    let cases = [
        ("", false),
        (
            "\u{feff}\u{feff} \n id , TODAYSDATE,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate\n",
            true,
        ),
        (
            "\"id\", \"todaysDate\",settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate,price",
            true,
        ),
        ("\"id,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate", false),
        (",,,\nid,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate", false),
        ("id,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility", false),
        ("id,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate\r\n", true),
        ("id\r,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate", true),
        ("{\"name\": \"x\"}", false),
    ];
    for (text, expected) in cases {
        assert_eq!(workshop_csv::looks_like_workshop_csv(text), expected, "{text:?}");
    }
}
