//! The result CSV: the input with the prices appended.

use super::CsvPortfolio;
use crate::error::Error;
use crate::result::InstrumentResult;

/// The columns appended to the header.
const RESULT_COLUMNS: [&str; 4] = ["price", "std_error", "ci95_low", "ci95_high"];

/// The same CSV with `,price,std_error,ci95_low,ci95_high` appended to the header and to
/// every row, in input order, numbers with six decimals. `results` must be the portfolio's results in row order.
pub fn write_results(portfolio: &CsvPortfolio, results: &[InstrumentResult]) -> Result<String, Error> {
    let rows = portfolio.rows.len();
    if results.len() != rows || portfolio.spec.instruments.len() != rows {
        return Err(Error::CsvCounts { results: results.len(), instruments: portfolio.spec.instruments.len(), rows });
    }
    // The header and each row go out as they came in, quoting and whitespace included, as
    // the first field of their record: never quoted, so written as they are. The appended
    // numbers need no quotes either.
    let mut out = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Never)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::with_capacity(
            portfolio.header.len() + 40 + rows * 40 + portfolio.rows.iter().map(String::len).sum::<usize>(),
        ));
    let written = |e: csv::Error| Error::CsvWrite { message: e.to_string() };
    out.write_record(std::iter::once(portfolio.header.as_str()).chain(RESULT_COLUMNS)).map_err(written)?;
    for (i, ((line, result), instrument)) in
        portfolio.rows.iter().zip(results).zip(&portfolio.spec.instruments).enumerate()
    {
        if result.id != instrument.id {
            return Err(Error::CsvRowMismatch {
                row: i + 1,
                result: result.id.clone(),
                instrument: instrument.id.clone(),
            });
        }
        let numbers = [result.price, result.std_error, result.ci95[0], result.ci95[1]].map(|x| format!("{x:.6}"));
        out.write_record(std::iter::once(line).chain(&numbers)).map_err(written)?;
    }
    let bytes = out.into_inner().map_err(|e| Error::CsvWrite { message: e.error().to_string() })?;
    // Every field was a `str`, so the bytes are UTF-8.
    String::from_utf8(bytes).map_err(|e| Error::CsvWrite { message: e.to_string() })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::workshop_csv::{CsvSettings, HEADER, parse};

    fn result(id: &str, price: f64) -> InstrumentResult {
        InstrumentResult {
            id: id.into(),
            price,
            std_error: 0.5,
            ci95: [price - 1.0, price + 1.0],
            european_price: price,
            early_exercise_premium: 0.0,
            exercise_boundary: None,
            lower_bound: None,
            upper_bound: None,
            accuracy: None,
        }
    }

    /// Rows that a CSV writer would quote (a quote, a comma, a lone CR, leading blanks) come
    /// back exactly as read.
    #[test]
    fn rows_are_written_as_read() {
        let rows = [
            " \"a, \"\"b\"\"\" ,11/15/2024,11/17/2024,Put,36,40,0.06,0.2,11/17/2025",
            "c\"d,11/15/2024,11/17/2024,Call,36\r,40,0.06,0.2,11/17/2025",
        ];
        let p = parse(&format!("{HEADER}\r\n{}\r\n{}", rows[0], rows[1]), "w", &CsvSettings::default()).unwrap();
        let out = write_results(&p, &[result("a, \"b\"", 2.0), result("c\"d", -1.0)]).unwrap();
        assert_eq!(
            out,
            format!(
                "{HEADER},price,std_error,ci95_low,ci95_high\n{},2.000000,0.500000,1.000000,3.000000\n{},-1.000000,0.500000,-2.000000,0.000000\n",
                rows[0], rows[1]
            )
        );
    }
}
