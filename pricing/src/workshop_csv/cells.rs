//! One line of a workshop CSV into its cells, by the reader of the `csv` crate (`csv-core`,
//! read cell by cell).

use csv_core::{ReadFieldResult, ReaderBuilder, Terminator};

/// The problem of a line whose quote is never closed.
const UNCLOSED: &str = "a quoted cell is not closed (quoted cells cannot span lines)";

/// Splits one line (without its line ending) into trimmed cells. A cell may be
/// double-quoted (`"a,b"`, `""` for a quote inside); quoted cells cannot span lines.
///
/// The quoting is the csv reader's (RFC 4180: text after a closing quote is taken as it
/// is, a quote inside an unquoted cell is text), with the workshop format's tolerances:
/// whitespace, Unicode's too, is trimmed from every cell, quoted or not, and may stand
/// before an opening quote.
pub(super) fn split_cells(line: &str) -> Result<Vec<String>, String> {
    // Lines are split before cells, so a newline ends the record: a cell that takes it in
    // was opened by a quote that the line never closes.
    let input = format!("{line}\n");
    let mut reader = ReaderBuilder::new().terminator(Terminator::Any(b'\n')).build();
    // A cell holds at most the bytes read for it, so this never needs to grow in practice.
    let mut cell = vec![0; input.len()];
    let mut cells = Vec::new();
    // Bytes of `input` read, and of the current cell written.
    let (mut read, mut written) = (0, 0);
    let mut cell_start = true;
    let mut first_read = true;
    loop {
        if cell_start {
            // Whitespace before an opening quote belongs to no cell; the csv reader would
            // take such a quote as text, and split a quoted comma.
            let rest = &input[read..];
            let text = rest.trim_start();
            if text.starts_with('"') {
                read += rest.len() - text.len();
            }
            cell_start = false;
        }
        // The csv reader drops a byte order mark at the start of its first read. Here that
        // would be a line's, text of its first cell (`parse` drops the file's), so the first
        // read is of one byte. Once all is read, the empty input tells the reader so.
        let end = if first_read { read + 1 } else { input.len() };
        first_read = false;
        let (result, n_read, n_written) = reader.read_field(&input.as_bytes()[read..end], &mut cell[written..]);
        read += n_read;
        written += n_written;
        match result {
            ReadFieldResult::InputEmpty => {}
            ReadFieldResult::OutputFull => cell.resize(2 * cell.len() + 1, 0),
            ReadFieldResult::Field { record_end } => {
                let text = String::from_utf8_lossy(&cell[..written]);
                if text.contains('\n') {
                    return Err(UNCLOSED.into());
                }
                cells.push(text.trim().to_string());
                written = 0;
                cell_start = true;
                if record_end {
                    return Ok(cells);
                }
            }
            // Nothing but the newline: an empty line is one empty cell.
            ReadFieldResult::End => return Ok(vec![String::new()]),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn cells_split_with_quotes() {
        assert_eq!(split_cells(" a , b ,c").unwrap(), ["a", "b", "c"]);
        assert_eq!(split_cells(r#""a,b", "say ""hi""" ,"#).unwrap(), ["a,b", "say \"hi\"", ""]);
        assert_eq!(split_cells(r#"" a ",b"c,"d"e ,"""""#).unwrap(), ["a", "b\"c", "de", "\""]);
        assert_eq!(split_cells("\u{a0}\"x,y\"\u{2003},\r").unwrap(), ["x,y", ""]);
        assert_eq!(split_cells("a\rb,\u{feff}c").unwrap(), ["a\rb", "\u{feff}c"]);
        assert_eq!(split_cells("\u{feff}a,b").unwrap(), ["\u{feff}a", "b"]);
        assert_eq!(split_cells("").unwrap(), [""]);
        assert_eq!(split_cells(",").unwrap(), ["", ""]);
        assert_eq!(split_cells("é,\"ü\"").unwrap(), ["é", "ü"]);
    }

    #[test]
    fn open_quotes_are_refused() {
        for line in [r#"a,"b"#, "\"", r#"""""#, r#" "a"#, r#"a,"b"",c"#] {
            assert_eq!(split_cells(line).unwrap_err(), UNCLOSED, "{line}");
        }
    }

    /// Text after a closing quote is kept as text, also after an empty quoted string.
    #[test]
    fn text_after_a_closing_quote() {
        assert_eq!(split_cells(r#""a" "b""#).unwrap(), [r#"a "b""#]);
        assert_eq!(split_cells(r#""" "n,o""#).unwrap(), [r#""n"#, r#"o""#]);
        assert_eq!(split_cells(r#"" " "p"#).unwrap(), [r#""p"#]);
    }
}
