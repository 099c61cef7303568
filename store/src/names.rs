//! Names safe anywhere pathgrid puts them: one segment of an object key, a job id, an AWS Batch
//! job name (`[A-Za-z0-9_-]{1,128}`).

/// True for the characters a safe name may hold: ASCII letters and digits, `-` and `_`.
pub fn is_safe_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// `s` with every other character replaced by `_`, cut to at most `max` characters.
pub fn safe_name(s: &str, max: usize) -> String {
    s.chars().map(|c| if is_safe_name_char(c) { c } else { '_' }).take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_cuts() {
        assert_eq!(safe_name("big book é+/x_y-z", 100), "big_book____x_y-z");
        assert_eq!(safe_name("abcdef", 3), "abc");
        assert!(!is_safe_name_char('.') && is_safe_name_char('_'));
    }
}
